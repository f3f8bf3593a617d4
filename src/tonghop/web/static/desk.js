// The desk's only script: the live part of a period's page, and dropping files on it.
// Everything works without it (the page then needs a reload; the file picker still sends).
"use strict";

(function () {
  const live = document.querySelector("[data-live]");
  if (live) {
    const every = Number(live.dataset.every) || 1000;
    let stamp = live.dataset.stamp;
    let busy = false;
    const check = function () {
      if (busy || document.visibilityState === "hidden") return;
      busy = true;
      fetch(live.dataset.live + "?dau=" + encodeURIComponent(stamp), {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      })
        .then(function (answer) {
          if (answer.status !== 200) return null;
          stamp = answer.headers.get("X-Dau") || stamp;
          return answer.text();
        })
        .then(function (html) {
          if (html === null) return;
          // Each part of the answer replaces the part of the page with its id; the upload
          // form between them (and a file being picked) is left alone.
          const fresh = new DOMParser().parseFromString(html, "text/html");
          fresh.querySelectorAll("[data-part]").forEach(function (part) {
            const old = document.getElementById(part.id);
            if (old) old.innerHTML = part.innerHTML;
          });
          live.dataset.stamp = stamp;
        })
        .catch(function () { /* the server restarts: try again at the next tick */ })
        .finally(function () { busy = false; });
    };
    setInterval(check, every);
  }

  const drop = document.querySelector("[data-drop]");
  if (drop) {
    const form = drop.closest("form");
    const input = drop.querySelector("input[type=file]");
    const note = drop.querySelector("[data-drop-note]");
    const send = function () {
      if (!input.files.length) return;
      const names = Array.prototype.map.call(input.files, function (f) { return f.name; });
      if (note) note.textContent = "Đang gửi " + names.join(", ") + ", xin chờ...";
      form.submit();
    };
    ["dragenter", "dragover"].forEach(function (name) {
      drop.addEventListener(name, function (event) {
        event.preventDefault();
        drop.classList.add("over");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      drop.addEventListener(name, function () { drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        send();
      }
    });
    input.addEventListener("change", send);
  }
})();
