// ChatPot's page behaviour. Everything here is an enhancement: without it the forms
// post and redirect as usual, and a reply still being written shows on the next load.
(() => {
  "use strict";

  const POT_REFRESH_MS = 5000;
  const TOAST_MS = 6000;
  const $ = (selector, root = document) => root.querySelector(selector);

  // -- Live: the pot, its winners and the keeper's replies, on one stream per browser ----
  //
  // A page hears the pot, wins and rounds (and, signed in, the player's replies being
  // written) on one server-sent event stream, however many tabs are open: the tab that
  // holds a lock (Web Locks) holds the stream and passes every event on to the others
  // (BroadcastChannel); when it closes, another tab takes the lock and the stream, from
  // the last event heard. A browser allows 6 connections per site: one stream per tab
  // and one per reply would leave none for the sends. Without those APIs, each tab holds
  // a stream of its own.

  const live = { lastId: "", open: false, leading: false, channel: null };
  // The events that carry an id (the pot, wins, rounds), and the ids this page has shown.
  const NUMBERED = new Set(["pot", "win", "round"]);
  const shown = new Set();
  const shownBefore = (id) => {
    if (!id) return false;
    if (shown.has(id)) return true;
    shown.add(id);
    if (shown.size > 1000) shown.delete(shown.values().next().value);
    return false;
  };
  const streaming = () => live.open;

  const dispatch = (name, data) => {
    const handler = liveHandlers[name];
    if (handler) handler(data);
  };

  const openLive = () => {
    const url = document.body.dataset.live;
    if (!url || !window.EventSource) return;
    // The stream goes on from where the page stood when it was made: nothing that happens
    // meanwhile is missed.
    live.lastId = document.body.dataset.liveFrom || "";
    if (!(navigator.locks && window.BroadcastChannel)) {
      holdStream(url);
      return;
    }
    const name = `chatpot-live:${url}`;
    live.channel = new BroadcastChannel(name);
    live.channel.onmessage = ({ data }) => {
      if (data.name === "hello") {
        if (live.leading) live.channel.postMessage({ name: "state", open: live.open });
        return;
      }
      if (data.name === "state") {
        if (data.open && !live.open) streamOpened();
        live.open = data.open;
        return;
      }
      if (NUMBERED.has(data.name) && shownBefore(data.id)) return;
      if (data.id) live.lastId = data.id;
      dispatch(data.name, data.data);
    };
    live.channel.postMessage({ name: "hello" });
    // Held until the tab goes: the lock passes to the next tab waiting for it.
    navigator.locks.request(name, () => {
      live.leading = true;
      holdStream(url);
      return new Promise(() => {});
    });
  };

  const holdStream = (url) => {
    const from = live.lastId ? `last_event_id=${encodeURIComponent(live.lastId)}` : "";
    const source = new EventSource(from ? `${url}${url.includes("?") ? "&" : "?"}${from}` : url);
    const state = (open) => {
      if (open && !live.open) streamOpened();
      live.open = open;
      if (live.channel) live.channel.postMessage({ name: "state", open });
    };
    source.addEventListener("open", () => state(true));
    source.addEventListener("error", () => state(source.readyState === EventSource.OPEN));
    for (const name of Object.keys(liveHandlers)) {
      source.addEventListener(name, (event) => {
        // An event the page has shown already (its id says so) is not shown again.
        if (NUMBERED.has(name) && shownBefore(event.lastEventId)) return;
        const data = JSON.parse(event.data);
        if (event.lastEventId) live.lastId = event.lastEventId;
        if (live.channel) live.channel.postMessage({ name, data, id: event.lastEventId });
        dispatch(name, data);
      });
    }
  };

  const showPot = ({ round, amount }) => {
    const figure = document.getElementById("pot-figure");
    if (figure) {
      $(".pot-amount", figure).textContent = amount;
      $(".pot-label", figure).textContent = `Pot · round ${round}`;
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
    const quoteRound = document.getElementById("quote-round");
    if (quoteRound && quoteRound.textContent === String(round)) return;
    refreshQuote();
  };
  // The composer's figures, again (the price, the balance).
  const refreshQuote = () => {
    const composer = document.getElementById("composer");
    if (!composer || !window.htmx) return;
    const fields = document.getElementById("composer-fields");
    const state = fields && fields.disabled ? "off" : "on";
    window.htmx.ajax("GET", `${composer.dataset.quote}?fields=${state}`, { swap: "none" });
  };

  const announced = new Set(); // rounds whose win this page told already
  const announceWin = ({ round, winner, payout }) => {
    if (announced.has(round)) return;
    announced.add(round);
    const me = document.body.dataset.player;
    if (winner === me && document.querySelector(".win-card.fresh")) return; // celebrated already
    const who = winner === me ? "You" : winner;
    toast(`${who} won the pot: ${payout} credits in round ${round}!`, "toast-win");
  };

  // A toast floats below the header; on the chat page it sits in the composer instead, in
  // the page's flow, so that it never covers a message (the newest stays in view above it).
  const toast = (text, kind) => {
    const area = document.getElementById("composer-toasts") || document.getElementById("toasts");
    if (!area) return;
    const following = area.id === "composer-toasts" && nearBottom();
    const note = document.createElement("p");
    note.className = `toast ${kind}`;
    note.textContent = text;
    area.append(note);
    if (following) window.scrollTo({ top: document.body.scrollHeight });
    setTimeout(() => note.remove(), TOAST_MS);
  };

  // Without the stream (a proxy that cuts it, an old browser), the pot is polled: the
  // figure listens for "chatpot:tick", answered 304 while unchanged.
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

  // Offsets count characters (code points), as the server does.
  const characters = (text) => Array.from(text);
  // What came for a reply not (yet) on the page, kept a while: the send's answer may
  // arrive after the first pieces, or after the end, of its reply.
  const early = new Map(); // message id -> [name, data][]
  const EARLY_MS = 60000;

  const replyElement = (id) => document.getElementById(`reply-${id}`);
  const following = (reply) => reply && reply.hasAttribute("data-reply-live");

  const replyPiece = (piece) => {
    const reply = replyElement(piece.message);
    if (!reply) {
      keepEarly(piece.message, "token", piece);
      arrived(piece.message);
      return;
    }
    if (!following(reply)) return;
    const shown = Number(reply.dataset.replyShown || 0);
    if (piece.offset > shown) {
      refetch(reply); // pieces came before this page listened: the text so far, again
      return;
    }
    const fresh = characters(piece.text).slice(shown - piece.offset);
    if (!fresh.length) return;
    const atBottom = nearBottom();
    const body = $(".body", reply);
    body.textContent = (shown ? body.textContent : "") + fresh.join("");
    reply.dataset.replyShown = String(shown + fresh.length);
    reply.dataset.replyStatus = "streaming";
    if (atBottom) scrollToNewest();
    else showJump();
  };

  const replyDone = (message) => {
    if (refetching.has(`reply-${message.id}`)) endedMeanwhile.add(`reply-${message.id}`);
    const reply = replyElement(message.id);
    if (!reply) {
      keepEarly(message.id, "done", message);
      arrived(message.id);
      return;
    }
    if (following(reply)) finish(reply, message);
  };

  const keepEarly = (id, name, data) => {
    if (!document.getElementById("conversation")) return;
    if (!early.has(id)) {
      early.set(id, []);
      setTimeout(() => early.delete(id), EARLY_MS);
    }
    early.get(id).push([name, data]);
  };

  // One player, one conversation: a message sent from another tab (or through the API)
  // is heard here by its reply's first event, and fetched onto this page with its reply.
  // A send of this tab's own that is still on its way brings its own exchange: a message
  // is fetched only if it is not on the page once that send is answered.
  let sendInFlight = false;
  const awaited = new Set();
  const newestShown = (list) =>
    Math.max(0, ...[...list.querySelectorAll(":scope > li.bubble.player")].map(
      (item) => Number(item.id.replace("message-", "")) || 0,
    ));
  const arrived = (id) => {
    const list = conversation();
    if (!list || !list.dataset.exchangeUrl || !window.htmx) return;
    if (document.getElementById(`message-${id}`) || id <= newestShown(list)) return;
    if (sendInFlight) {
      awaited.add(id);
      return;
    }
    if (fetching.has(id)) return;
    fetching.add(id);
    const url = list.dataset.exchangeUrl.replace(/0\/$/, `${id}/`);
    const fetched = () => {
      fetching.delete(id);
      if (nearBottom()) scrollToNewest();
      refreshQuote();
    };
    window.htmx.ajax("GET", url, { target: list, swap: "beforeend" }).then(fetched, fetched);
  };
  const fetching = new Set();
  document.addEventListener("htmx:beforeRequest", (event) => {
    if (event.detail.elt.id === "composer") sendInFlight = true;
  });
  document.addEventListener("htmx:afterRequest", (event) => {
    if (event.detail.elt.id !== "composer") return;
    sendInFlight = false;
    const ids = [...awaited];
    awaited.clear();
    ids.forEach(arrived);
  });
  // Whatever way an exchange came (its tab's send, or fetched), it is shown once.
  const shownOnce = (element) => {
    if (!element.id || !element.parentElement || element.parentElement.id !== "conversation") {
      return;
    }
    const same = document.querySelectorAll(`#${CSS.escape(element.id)}`);
    if (same.length > 1 && same[0] !== element) element.remove();
  };

  // A reply that came on the page: what was heard of it before.
  const catchUp = (root) => {
    root.querySelectorAll("[data-reply-live]").forEach((reply) => {
      const id = Number(reply.id.replace("reply-", ""));
      const heard = early.get(id);
      if (!heard) return;
      early.delete(id);
      for (const [name, data] of heard) dispatch(name, data);
    });
  };

  const refetching = new Set();
  const endedMeanwhile = new Set(); // replies whose end came while they were fetched
  const refetch = (reply) => {
    if (refetching.has(reply.id) || !window.htmx) return;
    refetching.add(reply.id);
    const done = () => {
      refetching.delete(reply.id);
      // What was fetched may predate an end heard meanwhile: ask once more.
      const fresh = document.getElementById(reply.id);
      if (endedMeanwhile.delete(reply.id) && fresh && fresh.hasAttribute("data-reply-live")) {
        refetch(fresh);
      }
    };
    window.htmx
      .ajax("GET", reply.dataset.replyUrl, { target: reply, swap: "outerHTML" })
      .then(done, done);
  };
  // A stream that opens (or comes back) heard nothing of what happened before it: each
  // reply the page shows as still being written is asked for as it stands.
  const streamOpened = () => document.querySelectorAll("[data-reply-live]").forEach(refetch);

  const liveHandlers = {
    pot: showPot,
    round: roundOpened,
    win: announceWin,
    token: replyPiece,
    done: replyDone,
  };

  // The reply is complete: shown as the conversation shows it (its Markdown rendered by
  // the server), or as its plain text if that cannot be fetched.
  const finish = (reply, message) => {
    const atBottom = nearBottom();
    $(".body", reply).textContent = message.reply || "…";
    reply.dataset.replyStatus = message.reply_status;
    reply.removeAttribute("data-reply-live");
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

  // -- The conversation, one Tab stop ------------------------------------------------------
  // A keyboard reaches the conversation in one Tab (its newest message, or the one it was
  // last in) and moves between messages with the arrow keys; a message's own controls
  // (its draw receipt, Copy) are in the Tab order only while the keyboard is in it. Tabbing
  // past a long conversation to the composer costs one stop, not two per exchange.

  const CONTROLS = "summary, [data-copy], .receipt a, [data-stop-reply]";
  const messagesOf = (list) => [...list.querySelectorAll(":scope > li.bubble")];
  const enter = (list, current) => {
    messagesOf(list).forEach((item) => {
      const here = item === current;
      item.tabIndex = here ? 0 : -1;
      item.querySelectorAll(CONTROLS).forEach((control) => {
        control.tabIndex = here ? 0 : -1;
      });
    });
  };
  const rove = () => {
    const list = conversation();
    if (!list) return;
    const items = messagesOf(list);
    const current = items.find((item) => item.contains(document.activeElement));
    enter(list, current || items[items.length - 1]);
  };
  document.addEventListener("focusin", (event) => {
    const item = event.target.closest && event.target.closest("#conversation > li.bubble");
    if (item) enter(item.parentElement, item);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
    const item = event.target.closest && event.target.closest("#conversation > li.bubble");
    if (!item || event.target !== item) return;
    const items = messagesOf(item.parentElement);
    const next = items[items.indexOf(item) + (event.key === "ArrowUp" ? -1 : 1)];
    if (next) {
      event.preventDefault();
      next.focus();
    }
  });

  // -- The skip link lands where the page's work is (the chat's composer) -------------------
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest(".skip-link");
    const target = link && document.querySelector(link.getAttribute("href"));
    if (!target) return;
    event.preventDefault();
    target.focus();
  });

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
    const stop = document.querySelector("[data-reply-live] [data-stop-reply]");
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

  // A send with no answer in time is given up (htmx aborts it: a send the browser never
  // got out is never made), and the player is told so; sent again, it keeps its
  // idempotency key, so a send that did get through is not charged twice.
  const sendFailed = (text) => {
    const status = document.getElementById("composer-status");
    if (!status) return;
    status.querySelectorAll(".composer-error").forEach((old) => old.remove());
    const note = document.createElement("p");
    note.className = "composer-error";
    note.setAttribute("role", "alert");
    note.textContent = text;
    status.prepend(note);
  };
  document.addEventListener("htmx:timeout", (event) => {
    if (event.detail.elt.id !== "composer") return;
    sendFailed(
      "No answer came in time, so the message may not have gone. Send it again: " +
        "it is charged at most once.",
    );
  });
  document.addEventListener("htmx:sendError", (event) => {
    if (event.detail.elt.id !== "composer") return;
    sendFailed("The message could not be sent: check your connection and send it again.");
  });

  // A message went through: empty the composer of it (not of what the player has begun
  // to write since: the answer settles a moment after it lands, and the reply may be done
  // by then), keep the focus there, follow the reply.
  let sending = null;
  document.addEventListener("htmx:configRequest", (event) => {
    if (event.detail.elt.id === "composer") sending = event.detail.parameters.get("body");
  });
  document.addEventListener("chatpot:sent", () => {
    const box = composerBody();
    if (box) {
      if (box.value === sending) box.value = "";
      countCharacters();
      if (!box.disabled) box.focus();
    }
    if (conversation()) catchUp(conversation());
    scrollToNewest();
  });

  // Whatever htmx puts on the page (a sent message, a finished reply) gets its buttons.
  document.addEventListener("htmx:load", (event) => {
    shownOnce(event.detail.elt);
    if (!event.detail.elt.isConnected) return;
    offerCopy(event.detail.elt);
    rove();
    catchUp(event.detail.elt.parentElement || event.detail.elt);
  });

  // After an out-of-band update the composer may have been re-enabled (a claim).
  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.target && event.target.id === "composer-fields") {
      const box = composerBody();
      if (box && !box.disabled) box.focus();
    }
  });

  document.addEventListener("DOMContentLoaded", () => {
    openLive();
    offerCopy(document);
    rove();
    countCharacters();
    if (conversation()) {
      const fresh = document.querySelector(".win-card.fresh");
      if (fresh) fresh.focus({ preventScroll: true });
      if (!new URLSearchParams(window.location.search).has("before")) scrollToNewest();
    }
  });
})();
