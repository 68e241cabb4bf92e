// Small behaviours htmx does not cover: keep the terminal short and scrolled, show upload progress,
// upload files dropped onto an upload form, show refused requests.
(() => {
  // More than the server's 300: hidden chatter (temperatures, SD status) takes its share of them.
  const KEEP = 1000;
  // The terminal follows new lines only while it is scrolled to the bottom: reading back is not
  // yanked away by the next push.
  let following = true;
  document.addEventListener("scroll", (e) => {
    const term = e.target;
    if (term.id === "terminal-lines") following = term.scrollHeight - term.scrollTop - term.clientHeight < 24;
  }, true);
  document.addEventListener("htmx:sseMessage", (e) => {
    const term = document.getElementById("terminal-lines");
    if (!term || e.target !== term) return;
    while (term.childElementCount > KEEP) term.firstElementChild.remove();
    if (following) term.scrollTop = term.scrollHeight;
  });
  // The terminal's filters (views/dashboard.ts): each box hides one kind of chatter (k-… lines);
  // the choice is this browser's, kept across visits.
  const HIDE_KEY = "layerline.terminal.hide";
  const applyFilters = (term, boxes) => {
    for (const box of boxes) term.classList.toggle(`hide-${box.dataset.terminalHide}`, box.checked);
    if (following) term.scrollTop = term.scrollHeight;
  };
  document.addEventListener("change", (e) => {
    if (!e.target.dataset || !e.target.dataset.terminalHide) return;
    const term = document.getElementById("terminal-lines");
    const boxes = [...document.querySelectorAll("[data-terminal-hide]")];
    if (term) applyFilters(term, boxes);
    try {
      localStorage.setItem(HIDE_KEY, JSON.stringify(boxes.filter((b) => b.checked).map((b) => b.dataset.terminalHide)));
    } catch {}
  });
  // ↑ and ↓ in the command box bring back the commands sent before (this browser's last 50).
  const HISTORY_KEY = "layerline.terminal.history";
  const history = () => {
    try {
      const list = JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]");
      return Array.isArray(list) ? list.filter((c) => typeof c === "string") : [];
    } catch {
      return [];
    }
  };
  let recalled = -1;
  document.addEventListener("htmx:beforeRequest", (e) => {
    const input = e.target.querySelector && e.target.closest(".terminal") && e.target.querySelector('input[name="command"]');
    if (!input || !input.value.trim()) return;
    const list = history().filter((c) => c !== input.value.trim());
    list.push(input.value.trim());
    recalled = -1;
    try {
      localStorage.setItem(HISTORY_KEY, JSON.stringify(list.slice(-50)));
    } catch {}
  });
  document.addEventListener("keydown", (e) => {
    if ((e.key !== "ArrowUp" && e.key !== "ArrowDown") || e.target.name !== "command" || !e.target.closest(".terminal")) return;
    const list = history();
    if (list.length === 0) return;
    e.preventDefault();
    if (e.key === "ArrowUp") recalled = recalled < 0 ? list.length - 1 : Math.max(0, recalled - 1);
    else recalled = recalled < 0 || recalled >= list.length - 1 ? -1 : recalled + 1;
    e.target.value = recalled < 0 ? "" : list[recalled];
  });
  // The viewer's rights changed or their session ended (src/server/ui/viewer-watch.ts): reload,
  // so the page offers only what they may do now (or shows the login page).
  document.addEventListener("htmx:sseMessage", (e) => {
    if (e.target.id === "viewer-changed") location.reload();
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
    if (!term) return;
    let hidden = null;
    try {
      hidden = JSON.parse(localStorage.getItem(HIDE_KEY) || "null");
    } catch {}
    const boxes = [...document.querySelectorAll("[data-terminal-hide]")];
    if (Array.isArray(hidden)) for (const box of boxes) box.checked = hidden.includes(box.dataset.terminalHide);
    applyFilters(term, boxes);
    term.scrollTop = term.scrollHeight;
  });
  // An answer htmx does not swap (4xx, 5xx: a refused permission, a bad form) still says what went
  // wrong: its JSON error or its text becomes a toast, so no button fails silently.
  const toastFailure = (xhr) => {
    if (!xhr) return;
    let message = (xhr.responseText || "").trim();
    let hint = "";
    try {
      const body = JSON.parse(message);
      const error = body && body.error;
      if (error && typeof error === "object") ({ message = "", hint = "" } = error);
      else if (typeof error === "string") message = error;
    } catch {}
    if (!message || message.startsWith("<")) message = `The server answered ${xhr.status} ${xhr.statusText}.`;
    toastError(message, hint);
  };
  const toastError = (message, hint) => {
    const toasts = document.getElementById("toasts");
    if (!toasts) return;
    const div = document.createElement("div");
    div.className = "toast error";
    div.setAttribute("role", "status");
    div.textContent = message;
    if (hint) {
      const span = document.createElement("span");
      span.className = "hint";
      span.textContent = ` ${hint}`;
      div.append(span);
    }
    toasts.append(div);
    return div;
  };
  document.addEventListener("htmx:responseError", (e) => toastFailure(e.detail.xhr));
  // No answer at all (Layerline stopped, restarting, or this device offline): say so, or the
  // control would just do nothing — once while it lasts, not for every poll of the page.
  document.addEventListener("htmx:sendError", () => {
    if (document.querySelector("#toasts .toast[data-offline]")) return;
    const toast = toastError("Layerline could not be reached, so nothing was done.", "Check that it is running and that this device is on the network, then try again.");
    if (toast) toast.dataset.offline = "";
  });
  // A control the live panel re-rendered while its request was out is no longer in the page when
  // the answer comes: htmx's events about it reach nobody and it cannot retarget from it, so its
  // request is watched from the start and a refusal or a toast still shows.
  document.addEventListener("htmx:beforeRequest", (e) => {
    const elt = e.target;
    const xhr = e.detail.xhr;
    if (!xhr) return;
    xhr.addEventListener("loadend", () => {
      if (document.body.contains(elt)) return;
      if (xhr.status >= 400) toastFailure(xhr);
      else if (xhr.getResponseHeader("HX-Retarget") === "#toasts") htmx.swap("#toasts", xhr.responseText, { swapStyle: "beforeend" });
    });
  });
  // A form that picks a printer asks what the chosen <option> says to ask first (data-confirm:
  // starting a print there would discard its interrupted print), as hx-confirm does for a button.
  document.addEventListener("htmx:confirm", (e) => {
    const option = e.detail.elt.querySelector && e.detail.elt.querySelector("select option:checked[data-confirm]");
    if (!option || e.detail.question) return;
    e.preventDefault();
    if (window.confirm(option.dataset.confirm)) e.detail.issueRequest(true);
  });
  // A camera picture that fails says why under it (the snapshot URL answers the camera's problem
  // as JSON) and tries again in a few seconds; a snapshot-only camera refreshes its picture.
  const retryCamera = (img, ms) => setTimeout(() => {
    if (!document.body.contains(img)) return;
    const url = new URL(img.src, location.href);
    url.searchParams.set("t", Date.now());
    img.src = url.pathname + url.search;
  }, ms);
  document.addEventListener("error", (e) => {
    const img = e.target;
    if (!img.classList || !img.classList.contains("camera-picture")) return;
    const caption = img.parentElement.querySelector(".camera-problem");
    fetch(img.dataset.snapshot, { credentials: "same-origin" })
      .then((r) => (r.ok ? null : r.json()))
      .then((body) => {
        if (!caption || !body || !body.error) return;
        caption.textContent = `${body.error.message} ${body.error.hint || ""}`;
        caption.hidden = false;
      })
      .catch(() => {});
    retryCamera(img, 5000);
  }, true);
  document.addEventListener("load", (e) => {
    const img = e.target;
    if (!img.classList || !img.classList.contains("camera-picture")) return;
    const caption = img.parentElement.querySelector(".camera-problem");
    if (caption) caption.hidden = true;
    if (img.dataset.refresh) retryCamera(img, Number(img.dataset.refresh));
  }, true);
  // The layer viewer (views/layer-view.ts): the number box, the ◀ ▶ buttons and the ← → keys move
  // its slider; moving it by hand stops following the print; a followed print moves it. Capture
  // phase: the slider is set before htmx sends the form.
  const viewerOf = (el) => el && el.closest && el.closest("form.layer-viewer");
  const moveTo = (form, n) => {
    const range = form.querySelector('input[name="layer"]');
    const follow = form.querySelector('input[name="follow"]');
    if (follow) follow.checked = false;
    range.value = String(Math.max(Number(range.min), Math.min(Number(range.max), Math.round(n) || 1)));
    form.querySelector(".layer-number").value = range.value;
  };
  document.addEventListener("change", (e) => {
    const form = viewerOf(e.target);
    if (form && e.target.classList.contains("layer-number")) moveTo(form, Number(e.target.value));
  }, true);
  document.addEventListener("input", (e) => {
    const form = viewerOf(e.target);
    if (form && e.target.name === "layer") moveTo(form, Number(e.target.value));
  }, true);
  const step = (form, by) => {
    moveTo(form, Number(form.querySelector('input[name="layer"]').value) + by);
    form.querySelector('input[name="layer"]').dispatchEvent(new Event("change", { bubbles: true }));
  };
  document.addEventListener("click", (e) => {
    const button = e.target.closest && e.target.closest("form.layer-viewer [data-step]");
    if (button) step(viewerOf(button), Number(button.dataset.step));
  });
  document.addEventListener("keydown", (e) => {
    // A viewer still waiting for its file's layers has no slider to move.
    const form = document.querySelector("form.layer-viewer:has(input[name=layer])");
    if (!form || (e.key !== "ArrowLeft" && e.key !== "ArrowRight") || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.target.closest && e.target.closest("input, select, textarea, [contenteditable]")) return;
    e.preventDefault();
    step(form, e.key === "ArrowRight" ? 1 : -1);
  });
  // The viewer's own page keeps the person's choices in its address (views/layer-view.ts
  // viewerPageUrl), so a reload shows what they left: its layer, Follow the print, travel, zoom.
  const remember = (form) => {
    const place = form && form.querySelector('input[name="place"]');
    if (!place || place.value !== "page") return;
    const url = new URL(location.href);
    const q = url.searchParams;
    const set = (name, value) => (value === null ? q.delete(name) : q.set(name, value));
    const field = (name) => form.querySelector(`input[name="${name}"]`);
    const box = (name) => form.querySelector(`input[type="checkbox"][name="${name}"]`);
    if (field("printer")) set("printer", field("printer").value);
    if (field("layer")) set("layer", field("layer").value);
    set("follow", box("follow") && !box("follow").checked ? "0" : null);
    for (const name of ["travel", "zoom"]) set(name, box(name) && box(name).checked ? "1" : null);
    if (url.href !== location.href) window.history.replaceState(window.history.state, "", url);
  };
  // On "change" only (a slider let go, a box ticked, a step): dragging would replace the address too often.
  document.addEventListener("change", (e) => remember(viewerOf(e.target)));
  document.addEventListener("htmx:afterSettle", () => {
    for (const form of document.querySelectorAll("form.layer-viewer")) {
      const view = form.querySelector(".layer-view[data-layer]");
      const follow = form.querySelector('input[name="follow"]');
      if (!view || !follow || !follow.checked) continue;
      form.querySelector('input[name="layer"]').value = view.dataset.layer;
      form.querySelector(".layer-number").value = view.dataset.layer;
    }
  });
  // Toasts fade on their own.
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) if (n.nodeType === 1) setTimeout(() => n.remove(), 8000);
  }).observe(document.getElementById("toasts") || document.body, { childList: true });
})();
