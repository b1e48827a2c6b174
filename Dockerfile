# ChatPot: one image for the web process and its release step (migrations).
FROM python:3.12-slim

ENV DJANGO_SETTINGS_MODULE=chatpot_project.settings \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files are collected into the image; whitenoise serves them, compressed and hashed.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --no-input

RUN useradd --create-home --uid 1000 chatpot
USER chatpot

EXPOSE 8000
CMD ["gunicorn", "chatpot_project.wsgi", "--config", "gunicorn.conf.py"]
