// Small behaviours htmx does not cover: keep the terminal short and scrolled, show upload progress.
(() => {
  const KEEP = 300;
  document.addEventListener("htmx:sseMessage", (e) => {
    const term = document.getElementById("terminal-lines");
    if (!term || e.target !== term) return;
    while (term.childElementCount > KEEP) term.firstElementChild.remove();
    term.scrollTop = term.scrollHeight;
  });
  document.addEventListener("htmx:xhr:progress", (e) => {
    const form = e.target.closest && e.target.closest("form.upload");
    const bar = form && form.querySelector(".upload-progress");
    if (!bar || !e.detail.lengthComputable) return;
    bar.hidden = false;
    bar.value = (e.detail.loaded / e.detail.total) * 100;
  });
  document.addEventListener("htmx:afterRequest", (e) => {
    const bar = e.target.querySelector && e.target.querySelector(".upload-progress");
    if (bar) bar.hidden = true;
  });
  document.addEventListener("DOMContentLoaded", () => {
    const term = document.getElementById("terminal-lines");
    if (term) term.scrollTop = term.scrollHeight;
  });
  // Toasts fade on their own.
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) if (n.nodeType === 1) setTimeout(() => n.remove(), 8000);
  }).observe(document.getElementById("toasts") || document.body, { childList: true });
})();
