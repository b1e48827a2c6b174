"""How the pages show things: the keeper's words, and moments in time.

A model writes Markdown, which the page renders through an allow-list of harmless tags
(nh3), never as the raw HTML a model might send. The player's own text is never rendered:
it stays plain text (linebreaksbr)."""

import re
from datetime import datetime

import markdown
import nh3
from django import template
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

register = template.Library()

# No headings: a model's "### You won the pot!" would look like the game speaking. A
# heading is shown as a paragraph of the keeper's, like any other line. No links: the
# keeper never sends a player anywhere ("claim your prize" at a site of a model's
# choosing); a link's words stay, as words.
ALLOWED_TAGS = {
    "p", "br", "strong", "em", "b", "i", "code", "pre", "ul", "ol", "li", "blockquote",
    "hr", "del",
}  # fmt: skip
_HEADING = re.compile(r"<(/?)h[1-6]\b[^>]*>")


# Anything Markdown (or HTML) could make something of. Without it a reply is plain text,
# and is shown as such without the parser: 0.007 ms a reply against 0.47 ms through
# Python-Markdown (in-process), 14 ms of a 30-message chat page of built-in replies.
_MARKUP = re.compile(r"[*_`\[\]#>|~<&\\]|^\s*(?:[-+]|\d+[.)])\s|\n\s*\n", re.MULTILINE)


@register.filter
def markdown_reply(text: str) -> SafeString:
    if not _MARKUP.search(text):
        return mark_safe(f"<p>{escape(text).replace(chr(10), '<br>')}</p>")  # noqa: S308
    html = markdown.markdown(text, extensions=["sane_lists", "nl2br"], output_format="html")
    html = _HEADING.sub(r"<\1p>", html)
    return mark_safe(  # noqa: S308 -- nh3 keeps only the allowed tags, and no attribute
        nh3.clean(html, tags=ALLOWED_TAGS, attributes={}, link_rel=None)
    )


@register.filter
def ago(moment: datetime | None) -> str:
    """'just now' under a minute, else Django's '3 minutes ago'."""
    if moment is None:
        return ""
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment)} ago"
