# The proxy and real-time engine of deploy/ (nginx with its nchan module, from Debian's
# packages), run by bin/proxy as on a host of its own. See docker-compose.yaml.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx libnginx-mod-nchan gettext-base \
    && rm -rf /var/lib/apt/lists/*
COPY bin/proxy /app/bin/proxy
COPY deploy/nginx.conf.template /app/deploy/nginx.conf.template
ENV PROXY_RUN_DIR=/run/chatpot-proxy
EXPOSE 8080
CMD ["/app/bin/proxy"]
