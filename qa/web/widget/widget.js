/*
 * Document Q&A chat widget. Paste on any page whose origin is in QA_ALLOWED_ORIGINS:
 *   <script src="https://HOST/widget.js" data-title="Ask our documents" defer></script>
 * Options (data- attributes of this script tag): data-title, data-position ("right" | "left"),
 * data-accent (any CSS colour), data-open ("true" opens it on the first visit of a page).
 * Everything lives in a Shadow DOM root, so the page's CSS cannot reach it and its CSS cannot
 * leak out; the chat itself is an iframe on the app's /embed page. No other file is loaded.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src || window.__documentQaWidget) return; // pasted twice: keep the first
  window.__documentQaWidget = true;

  // The chat lives next to this script, so an app served under a path prefix works too.
  var embedUrl = new URL("embed/", new URL(script.src, location.href)).href;
  var data = script.dataset;
  var title = (data.title || "Ask our documents").slice(0, 80);
  var side = /left/i.test(data.position || "") ? "left" : "right";
  var accent = data.accent && window.CSS && CSS.supports("color", data.accent) ? data.accent : "#2563eb";
  var storageKey = "document-qa-widget:open:" + location.pathname;

  function remembered() {
    try {
      return localStorage.getItem(storageKey);
    } catch (error) {
      return null; // storage blocked: fall back to data-open
    }
  }

  function remember(open) {
    try {
      localStorage.setItem(storageKey, open ? "open" : "closed");
    } catch (error) {
      /* storage blocked: the state just is not kept */
    }
  }

  var css = [
    ":host { all: initial; }",
    "*, *::before, *::after { box-sizing: border-box; }",
    ".launcher { position: fixed; bottom: 20px; " + side + ": 20px; width: 56px; height: 56px; border: 0;",
    "  border-radius: 50%; background: var(--accent); color: #fff; cursor: pointer; padding: 0;",
    "  box-shadow: 0 4px 14px rgba(0,0,0,.25); display: flex; align-items: center; justify-content: center; }",
    ".launcher:focus-visible, .close:focus-visible { outline: 3px solid #111; outline-offset: 2px; }",
    ".launcher svg { width: 28px; height: 28px; fill: currentColor; }",
    ".panel { position: fixed; bottom: 20px; " + side + ": 20px; width: min(420px, calc(100vw - 40px));",
    "  height: min(640px, calc(100vh - 40px)); display: flex; flex-direction: column; background: #fff;",
    "  border-radius: 14px; overflow: hidden; box-shadow: 0 10px 40px rgba(0,0,0,.3);",
    "  font: 15px/1.4 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #111; }",
    ".panel[hidden], .launcher[hidden] { display: none; }",
    "header { display: flex; align-items: center; gap: 8px; padding: 10px 12px; background: var(--accent); color: #fff; }",
    "header h2 { flex: 1; margin: 0; font-size: 15px; font-weight: 600; line-height: 1.3; overflow: hidden;",
    "  text-overflow: ellipsis; white-space: nowrap; }",
    ".close { width: 32px; height: 32px; border: 0; border-radius: 8px; background: transparent; color: inherit;",
    "  font-size: 22px; line-height: 1; font-family: inherit; cursor: pointer; }",
    ".close:hover { background: rgba(255,255,255,.18); }",
    "iframe { flex: 1; width: 100%; border: 0; background: #fff; }",
    "@media (max-width: 520px), (max-height: 480px) {",
    "  .panel { inset: 0; width: 100vw; height: 100vh; height: 100dvh; border-radius: 0; }",
    "}",
  ].join("\n");

  function mount() {
    var host = document.createElement("document-qa-widget");
    // Inline !important beats any page rule aimed at the host element itself.
    host.style.setProperty("all", "initial", "important");
    host.style.setProperty("display", "block", "important");
    host.style.setProperty("position", "fixed", "important");
    host.style.setProperty("z-index", "2147483000", "important");
    var root = host.attachShadow({ mode: "open" });
    root.innerHTML =
      "<style></style>" +
      '<button class="launcher" type="button" aria-label="Open chat" aria-expanded="false" aria-controls="qa-panel">' +
      '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>' +
      "</button>" +
      '<section class="panel" id="qa-panel" role="dialog" hidden>' +
      '<header><h2></h2><button class="close" type="button" aria-label="Close chat">\u00d7</button></header>' +
      "</section>";
    root.querySelector("style").textContent = css;
    host.style.setProperty("--accent", accent);
    var launcher = root.querySelector(".launcher");
    var panel = root.querySelector(".panel");
    var closeButton = root.querySelector(".close");
    root.querySelector("h2").textContent = title;
    panel.setAttribute("aria-label", title);

    function open(focus) {
      if (!panel.querySelector("iframe")) {
        // Created on first open, so pages where nobody opens the chat never load it.
        var frame = document.createElement("iframe");
        frame.title = "Document Q&A chat";
        frame.src = embedUrl;
        panel.appendChild(frame);
      }
      panel.hidden = false;
      launcher.hidden = true;
      launcher.setAttribute("aria-expanded", "true");
      remember(true);
      if (focus) closeButton.focus();
    }

    function close() {
      panel.hidden = true;
      launcher.hidden = false;
      launcher.setAttribute("aria-expanded", "false");
      remember(false);
      launcher.focus();
    }

    // Escape inside the chat's frame never reaches this page; the frame says so with a message.
    window.addEventListener("message", function (event) {
      var frame = panel.querySelector("iframe");
      if (!frame || event.source !== frame.contentWindow || event.origin !== new URL(embedUrl).origin) return;
      if (event.data && event.data.type === "document-qa:close" && !panel.hidden) close();
    });

    launcher.addEventListener("click", function () { open(true); });
    closeButton.addEventListener("click", close);
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") close();
    });
    document.body.appendChild(host);

    var state = remembered();
    if (state === "open" || (state === null && data.open === "true")) open(false);
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
