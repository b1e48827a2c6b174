// ChatPot's page behaviour. Everything here is an enhancement: without it the forms
// post and redirect as usual.
(() => {
  "use strict";

  const POT_REFRESH_MS = 5000;

  // The pot figure listens for "chatpot:tick"; tick only while the tab is visible.
  const tick = () => {
    if (document.visibilityState === "visible" && window.htmx) {
      window.htmx.trigger(document.body, "chatpot:tick");
    }
  };
  setInterval(tick, POT_REFRESH_MS);
  document.addEventListener("visibilitychange", tick);

  // Ask for the pot figure conditionally: an unchanged pot answers 304, which swaps nothing.
  document.addEventListener("htmx:configRequest", (event) => {
    const figure = event.detail.elt;
    if (figure.id === "pot-figure" && figure.dataset.etag) {
      event.detail.headers["If-None-Match"] = figure.dataset.etag;
    }
  });

  const composerBody = () => document.getElementById("composer-body");
  const conversation = () => document.getElementById("conversation");
  // The newest message sits just above the composer, at the bottom of the page.
  const scrollToNewest = () => window.scrollTo({ top: document.body.scrollHeight });

  // Enter sends, Shift+Enter starts a new line.
  document.addEventListener("keydown", (event) => {
    const box = event.target;
    if (!(box instanceof HTMLTextAreaElement) || !box.hasAttribute("data-send-on-enter")) return;
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (box.value.trim() !== "") box.form.requestSubmit();
    }
  });

  // A message went through: empty the composer, keep the focus there, show the reply.
  document.addEventListener("chatpot:sent", () => {
    const box = composerBody();
    if (box) {
      box.value = "";
      if (!box.disabled) box.focus();
    }
    scrollToNewest();
  });

  // After an out-of-band update the composer may have been re-enabled (a claim).
  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.target && event.target.id === "composer-fields") {
      const box = composerBody();
      if (box && !box.disabled) box.focus();
    }
  });

  document.addEventListener("DOMContentLoaded", () => {
    if (conversation() && !new URLSearchParams(window.location.search).has("before")) {
      scrollToNewest();
    }
  });
})();
