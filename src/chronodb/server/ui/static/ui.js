// ChronoDB's pages work without this script; it adds the slider's live label and stepping,
// instant table search, Ctrl+Enter in the SQL editor and the Live toggle.
"use strict";

function go(params) {
  const u = new URL(location.href);
  for (const [k, v] of Object.entries(params)) {
    if (v === null) u.searchParams.delete(k); else u.searchParams.set(k, v);
  }
  location.assign(u.toString());
}

function setupSlider() {
  const slider = document.getElementById("slider");
  if (!slider) return;
  const ticks = JSON.parse(slider.dataset.ticks);
  const label = document.getElementById("slider-label");
  const describe = (t) => {
    const what = [t.kind, ...(t.kinds || [])].filter(Boolean).join(", ");
    return `transaction ${t.tx_id} · ${t.time} · ${t.user || ""}${what ? " · " + what : ""}`;
  };
  let timer = null;
  const show = () => {
    const t = ticks[Number(slider.value)];
    label.textContent = describe(t);
    slider.setAttribute("aria-valuetext", describe(t));
  };
  show();
  slider.addEventListener("input", show);
  // Arrow keys step one transaction; the page follows once the keys rest.
  slider.addEventListener("change", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      sessionStorage.setItem("chronodb-slider-focus", "1");
      go({ as_of: String(ticks[Number(slider.value)].tx_id), _next: null });
    }, 300);
  });
  if (sessionStorage.getItem("chronodb-slider-focus")) {
    sessionStorage.removeItem("chronodb-slider-focus");
    slider.focus();
  }
}

function setupSearch() {
  for (const input of document.querySelectorAll("input[data-filter]")) {
    const rows = document.querySelectorAll(input.dataset.filter + " tbody tr[data-name]");
    input.addEventListener("input", () => {
      const q = input.value.toLowerCase();
      for (const row of rows) row.hidden = !row.dataset.name.includes(q);
    });
  }
}

function setupSql() {
  const form = document.querySelector("form.sql");
  if (!form) return;
  const text = form.querySelector("textarea");
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); }
  });
  // A read is a GET whose URL can be shared: the CSRF token stays out of it.
  form.addEventListener("submit", (e) => {
    const get = !e.submitter || e.submitter.getAttribute("formmethod") !== "post";
    form.querySelector("input[name=csrf]").disabled = get;
  });
}

// Live: follow the change stream and refresh the open table or row as changes arrive.
function setupLive() {
  const box = document.getElementById("live");
  const region = document.getElementById("live-region");
  if (!box || !region) return;
  let socket = null;
  let pending = false;
  const refresh = async () => {
    if (pending) return;
    pending = true;
    try {
      const r = await fetch(location.href, { headers: { Accept: "text/html" } });
      const doc = new DOMParser().parseFromString(await r.text(), "text/html");
      const fresh = doc.getElementById("live-region");
      if (fresh) swap(region, fresh);
    } finally { pending = false; }
  };
  const start = () => {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${proto}//${location.host}/ws`);
    socket.onopen = () => socket.send(JSON.stringify({ type: "subscribe", table: box.dataset.table }));
    socket.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type === "data_change" || msg.type === "data_changes") refresh();
    };
    socket.onclose = () => { if (box.checked) setTimeout(start, 2000); };
  };
  box.addEventListener("change", () => {
    sessionStorage.setItem("chronodb-live", box.checked ? "1" : "");
    if (box.checked) start(); else if (socket) { const s = socket; socket = null; s.close(); }
  });
  if (sessionStorage.getItem("chronodb-live")) { box.checked = true; start(); }
}

function swap(region, fresh) {
  const old = new Map([...region.querySelectorAll("tr[data-key]")].map((r) => [r.dataset.key, r]));
  const oldText = new Map([...old].map(([k, r]) => [k, r.textContent]));
  const seen = new Set();
  for (const row of fresh.querySelectorAll("tr[data-key]")) {
    seen.add(row.dataset.key);
    if (!old.has(row.dataset.key) || oldText.get(row.dataset.key) !== row.textContent) row.classList.add("flash");
  }
  const gone = [...old].filter(([k]) => !seen.has(k)).map(([, r]) => r);
  for (const row of gone) row.classList.add("fade");
  const versions = region.querySelectorAll("li.version").length;
  const page = fresh.ownerDocument;
  for (const el of document.querySelectorAll("[data-live][id]")) {
    const now = page.getElementById(el.id);
    if (now) el.textContent = now.textContent;
  }
  setTimeout(() => {
    region.replaceChildren(...fresh.childNodes);
    const items = region.querySelectorAll("li.version");
    for (let i = versions; i < items.length; i++) items[i].classList.add("flash");
  }, gone.length ? 1000 : 0);
}

document.addEventListener("DOMContentLoaded", () => {
  setupSlider();
  setupSearch();
  setupSql();
  setupLive();
});
