// Body of the document panel's js_on_load: `element`, `props` and `server` come from gr.HTML.
// Chat messages are sanitized HTML without scripts, so one delegated listener on the page
// turns clicks on [n] markers and source cards into "open this document at this passage".
const panel = element.closest("#qa-viewer") || element;
const inFrame = window.parent !== window;
let opener = null; // the marker or source button that opened the document, to get focus back on close

// One polite live region that says the answer (not its sources); Gradio's log region is silenced below.
let live = document.getElementById("qa-live");
if (!live) {
  live = document.createElement("div");
  live.id = "qa-live";
  live.className = "qa-sr-only";
  live.setAttribute("role", "status");
  live.setAttribute("aria-live", "polite");
  document.body.appendChild(live);
}
function announce(text) {
  live.textContent = "";
  // A fresh text node after a frame is read even when the same words come twice.
  requestAnimationFrame(() => { live.textContent = text; });
}

function isOverlay() {
  return getComputedStyle(panel).position === "fixed";
}

// While the document covers the chat (phones, the widget), it is a modal dialog: the rest is inert.
function setModal(on) {
  const others = document.querySelectorAll(".qa-chat-column, .qa-header-block, footer");
  others.forEach((node) => { if (on) node.setAttribute("inert", ""); else node.removeAttribute("inert"); });
  if (on) {
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-modal", "true");
    panel.setAttribute("aria-label", "Document");
  } else {
    panel.removeAttribute("role");
    panel.removeAttribute("aria-modal");
    panel.removeAttribute("aria-label");
  }
}

function scrollToTarget(attempt) {
  const target = element.querySelector("#qa-target");
  const body = element.querySelector(".qa-doc-body");
  if (!target || !body) {
    // The template re-renders on the next microtask or frame; try again briefly.
    if (attempt < 30) requestAnimationFrame(() => scrollToTarget(attempt + 1));
    return;
  }
  body.scrollTop = Math.max(0, target.offsetTop - body.offsetTop - body.clientHeight / 4);
  target.classList.add("qa-flash");
  // Focus goes to the document's text (named "Text of <title>"), so the keyboard scrolls it and a screen reader says what opened.
  body.focus({ preventScroll: true });
  const title = element.querySelector(".qa-doc-title");
  const meta = element.querySelector(".qa-doc-meta");
  announce("Opened " + (title ? title.textContent : "the document") + (meta ? ", " + meta.textContent : "") + ". The cited sentences are marked.");
  if (!window.matchMedia("(min-width: 861px)").matches || document.querySelector(".qa-compact")) return;
  const box = panel.getBoundingClientRect();
  if (box.top < 0 || box.top > window.innerHeight - 120) panel.scrollIntoView({ block: "start" });
}

async function openSource(key, from) {
  opener = from || null;
  panel.classList.add("qa-open");
  document.documentElement.classList.add("qa-doc-open");
  setModal(isOverlay());
  props.value = '<div class="qa-doc"><div class="qa-doc-head"><div class="qa-doc-heading">' +
    '<div class="qa-doc-title">Opening the document…</div></div></div></div>';
  try {
    props.value = await server.open_document(key);
  } catch (error) {
    props.value = '<div class="qa-doc"><div class="qa-doc-head"><div class="qa-doc-heading">' +
      '<div class="qa-doc-title" tabindex="-1">The document could not be opened.</div></div>' +
      '<button type="button" class="qa-close" aria-label="Close the document">×</button></div></div>';
    announce("The document could not be opened.");
    return;
  }
  requestAnimationFrame(() => scrollToTarget(0));
}

function closeSource() {
  const wasOpen = panel.classList.contains("qa-open");
  panel.classList.remove("qa-open");
  document.documentElement.classList.remove("qa-doc-open");
  setModal(false);
  if (!wasOpen) return false;
  // Back to where the reader was, or to the question box when that answer is gone.
  const back = opener && opener.isConnected ? opener : document.querySelector("#qa-question textarea");
  const lost = !document.activeElement || document.activeElement === document.body || panel.contains(document.activeElement);
  if (back && lost) back.focus();
  opener = null;
  return true;
}

// "Copy answer": the plain text with numbered sources that the server put in the button's value.
async function copyAnswer(button) {
  const text = button.getAttribute("value") || "";
  let copied = false;
  try {
    await navigator.clipboard.writeText(text); // secure contexts only (https, localhost)
    copied = true;
  } catch (error) {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    copied = document.execCommand("copy");
    area.remove();
    button.focus();
  }
  button.textContent = copied ? "Copied" : "Copy failed";
  announce(copied ? "Answer and sources copied." : "The answer could not be copied.");
  setTimeout(() => { button.textContent = "Copy answer"; }, 2000);
}

if (!window.__qaSourcesWired) {
  window.__qaSourcesWired = true;
  document.addEventListener("click", (event) => {
    const copy = event.target.closest(".qa-copy");
    if (copy) {
      event.preventDefault();
      event.stopPropagation();
      copyAnswer(copy);
      return;
    }
    const card = event.target.closest(".qa-source-card");
    const link = event.target.closest(".qa-cite, .qa-source") || (card && card.querySelector(".qa-source"));
    if (link && link.getAttribute("value")) {
      event.preventDefault();
      event.stopPropagation();
      openSource(link.getAttribute("value"), link);
    } else if (event.target.closest(".qa-close")) {
      closeSource();
    } else if (event.target.closest("#qa-new")) {
      closeSource();
    }
  }, true);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Tab" && panel.getAttribute("aria-modal") === "true") {
      // Tab and Shift+Tab go round the open document instead of leaving the page.
      const stops = [...panel.querySelectorAll("button, [tabindex]:not([tabindex='-1'])")].filter((e) => e.offsetParent);
      const first = stops[0], last = stops[stops.length - 1];
      const inside = panel.contains(document.activeElement);
      if (first && (!inside || (event.shiftKey ? document.activeElement === first : document.activeElement === last))) {
        event.preventDefault();
        (event.shiftKey ? last : first).focus();
      }
      return;
    }
    if (event.key !== "Escape") return;
    // First Escape closes an open document; in the widget's frame the next one closes the widget.
    if (!closeSource() && inFrame && document.querySelector(".qa-compact")) {
      window.parent.postMessage({ type: "document-qa:close" }, "*");
    }
  });
}

// Long answers: show a new answer from its top (the short answer first), not from its last source.
function scrollerOf(node) {
  for (let e = node.parentElement; e; e = e.parentElement) {
    const style = getComputedStyle(e);
    if (/(auto|scroll)/.test(style.overflowY) && e.scrollHeight > e.clientHeight) return e;
  }
  return null;
}

// What a screen reader hears for an answer: the short answer and the quoted sentences, never the sources.
function spoken(answer) {
  if (answer.classList.contains("qa-error")) return answer.textContent;
  if (answer.classList.contains("qa-abstained")) return "Not found in the documents. The nearest passages are listed below.";
  const short = answer.querySelector(".qa-short-text");
  const text = answer.querySelector(".qa-text");
  // The cited sources only: the other passages searched sit folded under "more".
  const sources = answer.querySelectorAll(".qa-sources > .qa-source-card").length;
  const words = text ? text.textContent.replace(/\s*\[\d+\]/g, "") : "";
  return (short ? "Answer: " + short.textContent + ". " : "") + words +
    (sources ? " " + sources + " source" + (sources === 1 ? "" : "s") + " below." : "");
}

// Gradio names each message by its raw HTML (an aria-label on a plain div, which ARIA prohibits anyway)
// and makes the whole log live: drop the names so the message itself is read, and let #qa-live speak.
function tidyChat(chat) {
  const log = chat.querySelector('[role="log"]');
  if (log && log.getAttribute("aria-live") !== "off") log.setAttribute("aria-live", "off");
  chat.querySelectorAll('[data-testid="bot"][aria-label], [data-testid="user"][aria-label]').forEach((node) => {
    node.removeAttribute("aria-label");
  });
  // Markers: "Source 1: title", not "[1]" (the chat's sanitizer keeps title but strips aria-*).
  chat.querySelectorAll(".qa-cite[title]").forEach((button) => {
    if (button.getAttribute("aria-label") !== button.title) button.setAttribute("aria-label", button.title);
  });
  // Gradio's example list has role="list" around buttons (axe: aria-required-children, critical).
  chat.querySelectorAll('.examples[role="list"]').forEach((list) => {
    list.setAttribute("role", "group");
    list.setAttribute("aria-label", "Example questions");
  });
}

const shown = new WeakSet();
let lastNote = "";
function revealNewest() {
  // What the feedback buttons did ("Thanks: ..."), said once in the live region.
  const note = document.querySelector("#qa-feedback-note");
  const noteText = note ? note.textContent.trim() : "";
  if (noteText !== lastNote) {
    lastNote = noteText;
    if (noteText) announce(noteText);
  }
  const chat = document.querySelector("#qa-chat");
  if (!chat) return;
  tidyChat(chat);
  const pending = chat.querySelector(".qa-pending");
  const answers = chat.querySelectorAll(".qa-answer");
  const newest = answers[answers.length - 1];
  const node = pending || (newest && !shown.has(newest) ? newest : null);
  if (!node) return;
  if (!pending) {
    shown.add(newest);
    announce(spoken(newest));
  }
  const scroller = scrollerOf(node);
  if (!scroller) return;
  const offset = node.getBoundingClientRect().top - scroller.getBoundingClientRect().top;
  // Keep the question visible just above the answer.
  scroller.scrollTop += pending ? scroller.scrollHeight : offset - 80;
}

if (!window.__qaChatWatched) {
  window.__qaChatWatched = true;
  new MutationObserver(() => requestAnimationFrame(revealNewest)).observe(document.body, {
    childList: true, subtree: true, attributes: true, attributeFilter: ["aria-label", "role", "aria-live"],
  });
  requestAnimationFrame(revealNewest);
}
