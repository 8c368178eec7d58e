// Body of the document panel's js_on_load: `element`, `props` and `server` come from gr.HTML.
// Chat messages are sanitized HTML without scripts, so one delegated listener on the page
// turns clicks on [n] markers and source cards into "open this document at this passage".
const panel = element.closest("#qa-viewer") || element;

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
  if (!window.matchMedia("(min-width: 861px)").matches || document.querySelector(".qa-compact")) return;
  const box = panel.getBoundingClientRect();
  if (box.top < 0 || box.top > window.innerHeight - 120) panel.scrollIntoView({ block: "start" });
}

async function openSource(key) {
  panel.classList.add("qa-open");
  document.documentElement.classList.add("qa-doc-open");
  props.value = '<div class="qa-doc"><div class="qa-doc-head"><div class="qa-doc-heading">' +
    '<div class="qa-doc-title">Opening the document…</div></div></div></div>';
  try {
    props.value = await server.open_document(key);
  } catch (error) {
    props.value = '<div class="qa-doc"><div class="qa-doc-head"><div class="qa-doc-heading">' +
      '<div class="qa-doc-title">The document could not be opened.</div></div>' +
      '<button type="button" class="qa-close" aria-label="Close the document">×</button></div></div>';
    return;
  }
  requestAnimationFrame(() => scrollToTarget(0));
}

function closeSource() {
  panel.classList.remove("qa-open");
  document.documentElement.classList.remove("qa-doc-open");
}

if (!window.__qaSourcesWired) {
  window.__qaSourcesWired = true;
  document.addEventListener("click", (event) => {
    const link = event.target.closest(".qa-cite, .qa-source");
    if (link && link.getAttribute("value")) {
      event.preventDefault();
      event.stopPropagation();
      openSource(link.getAttribute("value"));
    } else if (event.target.closest(".qa-close")) {
      closeSource();
    } else if (event.target.closest("#qa-new")) {
      closeSource();
    }
  }, true);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeSource();
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

const shown = new WeakSet();
function revealNewest() {
  const chat = document.querySelector("#qa-chat");
  if (!chat) return;
  const pending = chat.querySelector(".qa-pending");
  const answers = chat.querySelectorAll(".qa-answer");
  const newest = answers[answers.length - 1];
  const node = pending || (newest && !shown.has(newest) ? newest : null);
  if (!node) return;
  if (!pending) shown.add(newest);
  const scroller = scrollerOf(node);
  if (!scroller) return;
  const offset = node.getBoundingClientRect().top - scroller.getBoundingClientRect().top;
  // Keep the question visible just above the answer.
  scroller.scrollTop += pending ? scroller.scrollHeight : offset - 80;
}

if (!window.__qaChatWatched) {
  window.__qaChatWatched = true;
  new MutationObserver(() => requestAnimationFrame(revealNewest)).observe(document.body, { childList: true, subtree: true });
}
