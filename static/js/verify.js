// The fairness checks, made in the browser with nothing from the server but what is
// checked (docs/GAME.md, "Checking a round"): a draw, a message's receipt, a whole round's
// transcript. WebCrypto computes SHA-256 and HMAC-SHA256; nothing here sends a request
// but the fetch of a transcript the player asks for. The same checks, in Python with
// nothing but its standard library: docs/verify_round.py.
(() => {
  "use strict";

  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  const encode = (text) => new TextEncoder().encode(text);
  const hex = (buffer) =>
    Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");
  const TWO_64 = 2n ** 64n;

  // SHA-256 of a seed's hex text, as hex: the commitment, and a chain's link.
  const sha256Hex = async (text) => hex(await subtle.digest("SHA-256", encode(text)));

  // The first 8 bytes of HMAC-SHA256(key = server seed, "client seed:nonce"), big-endian.
  const rollInteger = async (serverSeed, clientSeed, nonce) => {
    const key = await subtle.importKey(
      "raw", encode(serverSeed), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const mac = await subtle.sign("HMAC", key, encode(`${clientSeed}:${nonce}`));
    return new DataView(mac).getBigUint64(0, false);
  };

  // roll / 2^64 < chance, exactly: the chance is read as the decimal it is written as.
  const isWin = (roll, chance) => {
    const [whole, fraction = ""] = String(chance).trim().split(".");
    if (!/^\d+$/.test(whole) || !/^\d*$/.test(fraction)) return null;
    return roll * 10n ** BigInt(fraction.length) < BigInt(whole + fraction) * TWO_64;
  };
  // The roll as the server stores and shows it: the nearest double to roll / 2^64.
  const asNumber = (roll) => Number(roll) / 2 ** 64;

  // Every check of a transcript ({round, messages}): a list of problems, empty when it holds.
  const checkTranscript = async (transcript, { walkLimit = 20000 } = {}) => {
    const problems = [];
    const notes = [];
    const round = transcript && transcript.round;
    const messages = transcript && transcript.messages;
    if (!round || !Array.isArray(messages) || typeof round.server_seed !== "string") {
      return { problems: ["This is not a round's transcript."], notes, draws: 0 };
    }
    const seedHash = await sha256Hex(round.server_seed);
    if (seedHash !== round.server_seed_hash) {
      problems.push("The revealed seed does not hash to the round's commitment.");
    }
    const chain = round.chain;
    if (!chain) {
      notes.push("This round's seed belongs to no chain: it was drawn when the round opened.");
    } else if (chain.position === 1) {
      if (seedHash !== chain.terminal_hash) {
        problems.push("The chain's first seed does not hash to its terminal hash.");
      }
    } else if (round.previous_seed === null) {
      notes.push("The round before took no seed of this chain: the walk to the terminal hash proves this one.");
    } else if (round.previous_seed !== seedHash) {
      problems.push("The seed does not hash to the seed revealed by the round before.");
    }
    if (chain && chain.position > 1 && chain.position <= walkLimit) {
      let link = round.server_seed;
      for (let step = 0; step < chain.position; step += 1) link = await sha256Hex(link);
      if (link !== chain.terminal_hash) {
        problems.push(`Hashed ${chain.position} times, the seed does not reach the chain's terminal hash.`);
      } else {
        notes.push(`Hashed ${chain.position} times, the seed reaches the chain's terminal hash.`);
      }
    } else if (chain && chain.position > walkLimit) {
      notes.push(`The walk to the terminal hash (${chain.position} hashes) is left to docs/verify_round.py.`);
    }
    if (messages.length !== round.message_count) {
      problems.push(`The round counts ${round.message_count} messages; the transcript has ${messages.length}.`);
    }
    const ids = new Set();
    const last = new Map(); // player: their message before, in this round
    const winners = [];
    for (const [index, message] of messages.entries()) {
      const name = `Message ${message.id}`;
      if (ids.has(message.id)) problems.push(`${name} appears twice.`);
      ids.add(message.id);
      const roll = await rollInteger(round.server_seed, message.client_seed, message.nonce);
      if (asNumber(roll) !== message.roll) {
        problems.push(`${name}: the roll is ${message.roll}; recomputed, ${asNumber(roll)}.`);
      }
      const won = isWin(roll, message.win_chance);
      if (won !== message.won) {
        problems.push(`${name}: recorded as ${message.won ? "a win" : "no win"}; the draw says ${won ? "a win" : "no win"}.`);
      }
      if (message.won) winners.push(index);
      const before = last.get(message.player);
      if (before && before.client_seed === message.client_seed && message.nonce !== before.nonce + 1) {
        problems.push(`${name}: ${message.player}'s nonce ${message.nonce} follows ${before.nonce} (a gap, or out of order).`);
      } else if (before && before.client_seed !== message.client_seed && message.nonce !== 0) {
        problems.push(`${name}: a new client seed starts at nonce 0, not ${message.nonce}.`);
      }
      last.set(message.player, message);
    }
    if (round.outcome === "won") {
      const winner = messages[winners[0]];
      if (winners.length !== 1) {
        problems.push(`A won round holds ${winners.length} winning messages, not 1.`);
      } else if (winners[0] !== messages.length - 1) {
        problems.push("The winning message is not the round's last: a draw after the win.");
      } else if (winner.player !== round.winner || winner.payout !== round.payout) {
        problems.push("The winning message is not the round's winner and payout.");
      }
    } else if (winners.length) {
      problems.push(`A round closed without a win holds ${winners.length} winning messages.`);
    }
    return { problems, notes, draws: messages.length };
  };

  // -- The page ------------------------------------------------------------------------

  const item = (text, className) => {
    const element = document.createElement("li");
    element.textContent = text;
    if (className) element.className = className;
    return element;
  };

  const showCheck = (target, title, result) => {
    const heading = document.createElement("p");
    const ok = result.problems.length === 0;
    heading.className = ok ? "check-ok" : "check-failed";
    heading.textContent = ok
      ? `${title}: every check holds (${result.draws} draws recomputed in your browser).`
      : `${title}: ${result.problems.length} problem${result.problems.length === 1 ? "" : "s"} found.`;
    const list = document.createElement("ul");
    result.problems.forEach((problem) => list.append(item(problem, "problem")));
    result.notes.forEach((note) => list.append(item(note)));
    target.replaceChildren(heading, list);
  };

  const unsupported = (target) => {
    target.textContent =
      "This browser offers no WebCrypto here (it needs HTTPS): use the server's verifier or docs/verify_round.py.";
  };

  // A whole round: a transcript file the player chose, or one fetched from the API.
  const transcriptChecker = (form) => {
    const target = document.getElementById("transcript-result");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!subtle) return unsupported(target);
      const file = form.elements.transcript.files[0];
      if (!file) {
        target.textContent = "Choose a transcript file first.";
        return;
      }
      target.textContent = "Checking…";
      let transcript;
      try {
        transcript = JSON.parse(await file.text());
      } catch {
        target.textContent = "That file is not a transcript: it is not JSON.";
        return;
      }
      showCheck(target, `Round ${transcript.round ? transcript.round.number : "?"}`,
        await checkTranscript(transcript));
    });
  };

  const roundChecker = (button) => {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const target = document.getElementById("transcript-result");
      if (!subtle) return unsupported(target);
      target.textContent = `Fetching round ${button.dataset.round}'s transcript…`;
      const response = await fetch(button.dataset.transcript, { headers: { Accept: "application/json" } });
      if (!response.ok) {
        target.textContent = `The transcript could not be fetched (${response.status}).`;
        return;
      }
      showCheck(target, `Round ${button.dataset.round}`, await checkTranscript(await response.json()));
      target.scrollIntoView({ block: "nearest" });
    });
  };

  // One draw: the verifier's form, answered here; without WebCrypto, by the server.
  const drawChecker = (form) => {
    if (!subtle) return;
    const fields = form.elements;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      event.stopImmediatePropagation();
      const target = document.getElementById("verifier-result");
      const seed = fields.server_seed.value.trim();
      const nonce = fields.nonce.value.trim();
      if (!/^[0-9a-f]{64}$/i.test(seed) || !/^\d+$/.test(nonce) || !fields.client_seed.value) {
        target.textContent = "Check the fields above: a server seed is 64 hex characters, a nonce a whole number, and the client seed is needed.";
        return;
      }
      const roll = await rollInteger(seed, fields.client_seed.value, BigInt(nonce));
      const chance = fields.win_chance.value.trim();
      const rows = [
        ["SHA-256 of the seed", `${await sha256Hex(seed)} (compare it with the round's published commitment)`],
        ["Roll", `${asNumber(roll).toFixed(8)} (${roll} / 2^64)`],
      ];
      if (chance) {
        const won = isWin(roll, chance);
        rows.push([`At a win chance of ${chance}`, won === null ? "not a number" : won ? "a win" : "no win"]);
      }
      const list = document.createElement("dl");
      rows.forEach(([term, value]) => {
        const dt = document.createElement("dt");
        const dd = document.createElement("dd");
        dt.textContent = term;
        dd.textContent = value;
        list.append(dt, dd);
      });
      const note = document.createElement("p");
      note.className = "meta";
      note.textContent = "Computed in your browser.";
      target.replaceChildren(list, note);
    }, true);
  };

  // A receipt's own draw, once its round's seed is revealed.
  const receiptChecker = (button) => {
    if (!subtle) return;
    button.hidden = false;
    button.addEventListener("click", async () => {
      const data = button.dataset;
      const roll = await rollInteger(data.seed, data.clientSeed, BigInt(data.nonce));
      const seedHash = await sha256Hex(data.seed);
      const holds = asNumber(roll) === Number(data.roll) && seedHash === data.commitment
        && isWin(roll, data.chance) === (data.won === "true");
      const output = button.nextElementSibling;
      output.textContent = holds
        ? `Checked in your browser: the seed matches its commitment, the roll is ${asNumber(roll).toFixed(8)}, ${data.won === "true" ? "a win" : "no win"}.`
        : "Checked in your browser: this receipt does NOT match its draw.";
    });
  };

  const enhance = (root) => {
    root.querySelectorAll("form[data-check-transcript]").forEach(transcriptChecker);
    root.querySelectorAll("button[data-check-round]").forEach(roundChecker);
    root.querySelectorAll("form[data-check-draw]").forEach(drawChecker);
    root.querySelectorAll("button[data-check-receipt]:not([data-checking])").forEach((button) => {
      button.dataset.checking = "";
      receiptChecker(button);
    });
  };

  globalThis.ChatPotVerify = { checkTranscript, rollInteger, sha256Hex, isWin };
  document.addEventListener("DOMContentLoaded", () => enhance(document));
  // Receipts arrive with new messages on the chat page.
  document.addEventListener("htmx:load", (event) => {
    event.target.querySelectorAll("button[data-check-receipt]:not([data-checking])").forEach((button) => {
      button.dataset.checking = "";
      receiptChecker(button);
    });
  });
})();
