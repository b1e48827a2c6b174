// ChatPot's page behaviour. Everything here is an enhancement: without it the forms
// post and redirect as usual, and a reply still being written shows on the next load.
(() => {
  "use strict";

  const POT_REFRESH_MS = 5000;
  const TOAST_MS = 6000;
  const $ = (selector, root = document) => root.querySelector(selector);

  // -- The pot and its winners, pushed to every page (GET /api/v1/events) -------------

  let events = null;
  const streaming = () => events && events.readyState === EventSource.OPEN;

  const openEvents = () => {
    const url = document.body.dataset.events;
    if (!url || !window.EventSource) return;
    events = new EventSource(url);
    events.addEventListener("pot", (event) => showPot(JSON.parse(event.data)));
    events.addEventListener("round", (event) => roundOpened(JSON.parse(event.data)));
    events.addEventListener("win", (event) => announceWin(JSON.parse(event.data)));
  };

  const showPot = ({ round, amount }) => {
    const figure = document.getElementById("pot-figure");
    if (figure) {
      $(".pot-amount", figure).textContent = amount;
      $(".pot-label", figure).textContent = `Pot · round ${round}`;
      figure.setAttribute("aria-label", `Pot of round ${round}: ${amount} credits`);
      figure.dataset.round = round;
    }
    const quoteRound = document.getElementById("quote-round");
    const quotePot = document.getElementById("quote-pot");
    if (quotePot && quoteRound && quoteRound.textContent === String(round)) {
      quotePot.textContent = amount;
    }
  };

  // A new round: the composer's figures (the price may start again) come anew.
  const roundOpened = ({ round }) => {
    const composer = document.getElementById("composer");
    const quoteRound = document.getElementById("quote-round");
    if (!composer || !window.htmx || (quoteRound && quoteRound.textContent === String(round))) {
      return;
    }
    const fields = document.getElementById("composer-fields");
    const state = fields && fields.disabled ? "off" : "on";
    window.htmx.ajax("GET", `${composer.dataset.quote}?fields=${state}`, { swap: "none" });
  };

  const announceWin = ({ round, winner, payout }) => {
    const me = document.body.dataset.player;
    if (winner === me && document.querySelector(".win-card.fresh")) return; // celebrated already
    const who = winner === me ? "You" : winner;
    toast(`${who} won the pot: ${payout} credits in round ${round}!`, "toast-win");
  };

  const toast = (text, kind) => {
    const area = document.getElementById("toasts");
    if (!area) return;
    const note = document.createElement("p");
    note.className = `toast ${kind}`;
    note.textContent = text;
    area.append(note);
    setTimeout(() => note.remove(), TOAST_MS);
  };

  // Without the events stream (a proxy that cuts it, an old browser), the pot is polled:
  // the figure listens for "chatpot:tick", answered 304 while unchanged.
  const tick = () => {
    if (!streaming() && document.visibilityState === "visible" && window.htmx) {
      window.htmx.trigger(document.body, "chatpot:tick");
    }
  };
  setInterval(tick, POT_REFRESH_MS);
  document.addEventListener("visibilitychange", tick);
  document.addEventListener("htmx:configRequest", (event) => {
    const figure = event.detail.elt;
    if (figure.id === "pot-figure" && figure.dataset.etag) {
      event.detail.headers["If-None-Match"] = figure.dataset.etag;
    }
  });

  // -- The keeper's replies, as they are written ----------------------------------------

  const following = new Map(); // reply element -> its EventSource

  const followReplies = (root) => {
    root.querySelectorAll("[data-reply-stream]").forEach((reply) => {
      if (!following.has(reply) && window.EventSource) follow(reply);
    });
  };

  const follow = (reply) => {
    const body = $(".body", reply);
    const stream = new EventSource(reply.dataset.replyStream);
    following.set(reply, stream);
    let text = "";
    // A stream that connects again starts with the text so far.
    stream.addEventListener("open", () => {
      text = "";
    });
    stream.addEventListener("token", (event) => {
      const atBottom = nearBottom();
      text += JSON.parse(event.data).text;
      body.textContent = text;
      reply.dataset.replyStatus = "streaming";
      if (atBottom) scrollToNewest();
      else showJump();
    });
    stream.addEventListener("done", (event) => {
      stream.close();
      following.delete(reply);
      finish(reply, JSON.parse(event.data));
    });
  };

  // The reply is complete: shown as the conversation shows it (its Markdown rendered by
  // the server), or as its plain text if that cannot be fetched.
  const finish = (reply, message) => {
    const atBottom = nearBottom();
    $(".body", reply).textContent = message.reply || "…";
    reply.dataset.replyStatus = message.reply_status;
    reply.removeAttribute("data-reply-stream");
    reply.removeAttribute("aria-busy");
    const stop = $(".stop-form", reply);
    if (stop) stop.remove();
    const announcer = document.getElementById("announcer");
    if (announcer) announcer.textContent = `Keeper: ${message.reply}`;
    const settled = () => (atBottom ? scrollToNewest() : showJump());
    if (window.htmx && reply.dataset.replyUrl) {
      window.htmx
        .ajax("GET", reply.dataset.replyUrl, { target: reply, swap: "outerHTML" })
        .then(settled, settled);
    } else {
      settled();
    }
  };

  // -- Copying a reply --------------------------------------------------------------------

  const offerCopy = (root) => {
    if (!navigator.clipboard) return;
    root.querySelectorAll("[data-copy]").forEach((button) => {
      button.hidden = false;
    });
  };
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const body = $(".body", button.closest(".bubble"));
    navigator.clipboard.writeText(body.innerText.trim()).then(() => {
      button.textContent = "Copied";
      setTimeout(() => {
        button.textContent = "Copy";
      }, 2000);
    });
  });

  // -- Keeping up with the conversation ---------------------------------------------------

  // The newest message sits just above the composer, at the bottom of the page. The page
  // follows new messages only while the player is there; otherwise a button offers them.
  const scrollToNewest = () => {
    window.scrollTo({ top: document.body.scrollHeight });
    hideJump();
  };
  const nearBottom = () =>
    window.innerHeight + window.scrollY >= document.body.scrollHeight - 120;
  const jump = () => document.getElementById("jump-newest");
  const showJump = () => {
    if (jump() && !nearBottom()) jump().hidden = false;
  };
  const hideJump = () => {
    if (jump()) jump().hidden = true;
  };
  document.addEventListener("click", (event) => {
    if (event.target.closest("#jump-newest")) scrollToNewest();
  });
  window.addEventListener(
    "scroll",
    () => {
      if (nearBottom()) hideJump();
    },
    { passive: true },
  );

  // Esc stops the reply being written.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const stop = document.querySelector("[data-reply-stream] [data-stop-reply]");
    if (stop) {
      event.preventDefault();
      stop.click();
    }
  });

  // -- The composer -----------------------------------------------------------------------

  const composerBody = () => document.getElementById("composer-body");
  const conversation = () => document.getElementById("conversation");

  // The count shows as the limit nears; past it the message is refused, never cut.
  const COUNT_FROM = 0.8;
  const countCharacters = () => {
    const box = composerBody();
    const counter = document.getElementById("char-count");
    if (!box || !counter) return;
    const max = Number(box.dataset.maxChars);
    const used = [...box.value.trim()].length;
    const over = used > max;
    counter.textContent = used >= max * COUNT_FROM ? `${used} / ${max}` : "";
    if (over) counter.textContent += ` · ${used - max} over the limit`;
    counter.classList.toggle("over", over);
    box.setCustomValidity(over ? `A message is at most ${max} characters.` : "");
  };
  document.addEventListener("input", (event) => {
    if (event.target.id === "composer-body") countCharacters();
  });

  // What the player typed survives the composer being redrawn (a claim, a new round).
  let typed = "";
  document.addEventListener("htmx:oobBeforeSwap", (event) => {
    if (event.target.id === "composer-fields" && composerBody()) {
      typed = composerBody().value;
    }
  });
  document.addEventListener("htmx:oobAfterSwap", (event) => {
    const box = composerBody();
    if (event.target.id === "composer-fields" && box) {
      if (!box.value && typed) box.value = typed;
      typed = "";
      countCharacters();
    }
  });

  // Enter sends, Shift+Enter starts a new line.
  document.addEventListener("keydown", (event) => {
    const box = event.target;
    if (!(box instanceof HTMLTextAreaElement) || !box.hasAttribute("data-send-on-enter")) return;
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (box.value.trim() !== "" && box.reportValidity()) box.form.requestSubmit();
    }
  });

  // A message went through: empty the composer, keep the focus there, follow the reply.
  document.addEventListener("chatpot:sent", () => {
    const box = composerBody();
    if (box) {
      box.value = "";
      countCharacters();
      if (!box.disabled) box.focus();
    }
    if (conversation()) followReplies(conversation());
    scrollToNewest();
  });

  // Whatever htmx puts on the page (a sent message, a finished reply) gets its buttons.
  document.addEventListener("htmx:load", (event) => offerCopy(event.detail.elt));

  // After an out-of-band update the composer may have been re-enabled (a claim).
  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.target && event.target.id === "composer-fields") {
      const box = composerBody();
      if (box && !box.disabled) box.focus();
    }
  });

  document.addEventListener("DOMContentLoaded", () => {
    openEvents();
    offerCopy(document);
    countCharacters();
    if (conversation()) {
      followReplies(conversation());
      const fresh = document.querySelector(".win-card.fresh");
      if (fresh) fresh.focus({ preventScroll: true });
      if (!new URLSearchParams(window.location.search).has("before")) scrollToNewest();
    }
  });
})();
