// Small behaviours htmx does not cover: keep the terminal short and scrolled, show upload progress,
// upload files dropped onto an upload form.
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
  // Drag and drop onto an upload form (class "dropzone") uploads the dropped file.
  const zoneOf = (e) => e.target.closest && e.target.closest("form.dropzone");
  document.addEventListener("dragover", (e) => {
    const zone = zoneOf(e);
    if (!zone) return;
    e.preventDefault();
    zone.classList.add("dragging");
  });
  document.addEventListener("dragleave", (e) => {
    const zone = zoneOf(e);
    if (zone && !zone.contains(e.relatedTarget)) zone.classList.remove("dragging");
  });
  document.addEventListener("drop", (e) => {
    const zone = zoneOf(e);
    if (!zone || !e.dataTransfer || e.dataTransfer.files.length === 0) return;
    e.preventDefault();
    zone.classList.remove("dragging");
    zone.querySelector('input[type="file"]').files = e.dataTransfer.files;
    zone.requestSubmit();
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
