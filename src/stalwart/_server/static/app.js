// Small enhancements over server-rendered pages: auto-refresh, paging, confirmations.
(function () {
  "use strict";

  function formIsBusy() {
    var active = document.activeElement;
    if (active && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName) && active.type !== "checkbox") {
      return true;
    }
    var fields = document.querySelectorAll(".actions input:not([type=hidden]), .actions textarea");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value) { return true; }
    }
    return false;
  }

  // Workflow list: re-fetch the rows while the checkbox is on.
  var rows = document.getElementById("workflow-rows");
  var auto = document.getElementById("auto-refresh");
  if (rows && auto) {
    auto.checked = localStorage.getItem("stalwart.autoRefresh") !== "off";
    auto.addEventListener("change", function () {
      localStorage.setItem("stalwart.autoRefresh", auto.checked ? "on" : "off");
    });
    setInterval(function () {
      if (!auto.checked || document.hidden) { return; }
      fetch(rows.dataset.refreshUrl, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { rows.innerHTML = html; } })
        .catch(function () {});
    }, 3000);
  }

  // Workflow page: watch status and history length; reload when they change and the user
  // is not in the middle of typing, else say that there is something new.
  var wf = document.getElementById("wf");
  if (wf) {
    var watch = setInterval(function () {
      if (document.hidden) { return; }
      fetch(wf.dataset.statusUrl, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) { return; }
          if (s.status !== wf.dataset.status || String(s.history_length) !== wf.dataset.historyLength) {
            if (formIsBusy()) {
              document.getElementById("changed-banner").hidden = false;
            } else {
              clearInterval(watch);
              var url = new URL(window.location.href);
              url.searchParams.delete("notice");
              url.searchParams.delete("error");
              window.location.replace(url.toString());
            }
          }
        })
        .catch(function () {});
    }, 1500);
    if (wf.dataset.status !== "RUNNING") { clearInterval(watch); }
  }

  // History: hide or show workflow-task rows; load further pages in place.
  var timeline = document.getElementById("timeline");
  var hideTasks = document.getElementById("hide-tasks");
  if (timeline && hideTasks) {
    hideTasks.addEventListener("change", function () {
      timeline.classList.toggle("hide-tasks", hideTasks.checked);
    });
  }
  document.addEventListener("click", function (event) {
    var more = event.target.closest ? event.target.closest("li.load-more") : null;
    if (!more) { return; }
    event.preventDefault();
    var link = more.querySelector("a");
    if (link) { link.textContent = "Loading…"; }
    fetch(more.dataset.url, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (html) { more.insertAdjacentHTML("afterend", html); more.remove(); })
      .catch(function () { if (link) { link.textContent = "Could not load; click to retry"; } });
  });

  // Confirmation for cancel and terminate.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
  // Workflow page: the run's stream, live, over Server-Sent Events (the browser resumes
  // from the last offset it got, through Last-Event-ID, when the connection drops).
  var streamCard = document.getElementById("stream");
  if (streamCard && window.EventSource) {
    var list = document.getElementById("stream-items");
    var state = document.getElementById("stream-state");
    var source = new EventSource(streamCard.dataset.streamUrl, { withCredentials: true });
    var show = function (value) {
      return typeof value === "string" ? value : JSON.stringify(value);
    };
    source.addEventListener("open", function () { state.textContent = "live"; });
    source.addEventListener("error", function () {
      if (source.readyState !== EventSource.CLOSED) { state.textContent = "reconnecting…"; }
    });
    source.addEventListener("item", function (event) {
      var item = JSON.parse(event.data);
      var li = document.createElement("li");
      li.dataset.offset = item.offset;
      li.dataset.attempt = item.attempt === null ? "" : item.attempt;
      li.dataset.activity = item.activity_id || "";
      if (item.failed) { li.className = "void"; }
      var topic = document.createElement("span");
      topic.className = "topic";
      topic.textContent = item.topic;
      var data = document.createElement("span");
      data.className = "data";
      data.textContent = show(item.data);
      li.appendChild(topic);
      li.appendChild(data);
      list.appendChild(li);
      var empty = document.getElementById("stream-empty");
      if (empty) { empty.hidden = true; }
    });
    source.addEventListener("attempt_failed", function (event) {
      var marker = JSON.parse(event.data);
      list.querySelectorAll("li").forEach(function (li) {
        if (li.dataset.activity === (marker.activity_id || "") &&
            li.dataset.attempt === String(marker.attempt)) { li.className = "void"; }
      });
    });
    source.addEventListener("end", function () {
      source.close();
      state.textContent = "ended";
    });
  }
})();
