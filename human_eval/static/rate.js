// Rating page: reports play events to the server (which decides what counts as played),
// enables the answer once every sample was played, keyboard shortcuts, and an idempotent
// JSON submission (the same submission id on every retry).
(function () {
  "use strict";
  var form = document.getElementById("vote-form");
  if (!form) { return; }
  var csrf = form.querySelector("input[name=csrf]").value;
  var assignment = parseInt(form.dataset.assignment, 10);
  var required = parseFloat(form.dataset.required);
  var kind = form.dataset.kind;
  var submit = document.getElementById("submit");
  var videos = Array.prototype.slice.call(document.querySelectorAll("video[data-side]"));
  var played = {};
  var lastSent = {};

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body)
    });
  }

  function refresh() {
    var ok = videos.every(function (v) { return (played[v.dataset.side] || 0) >= required; });
    videos.forEach(function (v) {
      var s = document.getElementById("status-" + v.dataset.side);
      if ((played[v.dataset.side] || 0) >= required) { s.textContent = "played"; s.classList.add("done"); }
    });
    submit.disabled = !ok;
    document.getElementById("play-hint").hidden = ok;
    var current = null;
    form.querySelectorAll("fieldset.question").forEach(function (f) {
      f.classList.remove("current");
      if (!current && !f.querySelector("input:checked")) { current = f; }
    });
    if (current) { current.classList.add("current"); }
  }

  function report(video, event) {
    var side = video.dataset.side;
    var now = Date.now();
    if (event === "progress" && lastSent[side] && now - lastSent[side] < 1000) { return; }
    lastSent[side] = now;
    var position = event === "ended" ? (video.duration || video.currentTime) : video.currentTime;
    post(form.dataset.playUrl, {assignment: assignment, side: side, event: event, position: position})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) { if (j) { played[side] = Math.max(played[side] || 0, j.played); refresh(); } })
      .catch(function () { /* the next event reports again */ });
  }

  videos.forEach(function (v) {
    played[v.dataset.side] = parseFloat(v.dataset.played) || 0;
    v.addEventListener("play", function () {
      videos.forEach(function (o) { if (o !== v) { o.pause(); } });
      report(v, "play");
    });
    v.addEventListener("timeupdate", function () { if (!v.paused) { report(v, "progress"); } });
    v.addEventListener("pause", function () { if (!v.ended) { report(v, "pause"); } });
    v.addEventListener("ended", function () { report(v, "ended"); });
  });

  function toggle(side) {
    var v = document.getElementById("video-" + side);
    if (!v) { return; }
    if (v.paused) { v.play(); } else { v.pause(); }
  }
  document.querySelectorAll("button.play").forEach(function (b) {
    b.addEventListener("click", function () { toggle(b.dataset.side); });
  });
  form.addEventListener("change", refresh);

  function answerCurrent(value) {
    var f = form.querySelector("fieldset.question.current");
    if (!f) { return; }
    var input = f.querySelector("input[value='" + value + "']");
    if (input) { input.checked = true; refresh(); }
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    var k = e.key;
    if (kind === "pairwise") {
      if (k === "1") { toggle("left"); } else if (k === "2") { toggle("right"); }
      else if (k === "a") { answerCurrent("left"); } else if (k === "s") { answerCurrent("tie"); }
      else if (k === "d") { answerCurrent("right"); } else if (k !== "Enter") { return; }
    } else {
      if (k === "p" || k === " ") { toggle("left"); }
      else if (/^[0-9]$/.test(k)) { answerCurrent(k === "0" ? "10" : k); } else if (k !== "Enter") { return; }
    }
    if (k === "Enter") { if (!submit.disabled) { form.requestSubmit(); } }
    e.preventDefault();
  });

  function showError(text) {
    var p = document.getElementById("error");
    if (!p) { p = document.createElement("p"); p.id = "error"; p.className = "notice"; form.parentNode.insertBefore(p, form); }
    p.textContent = text;
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var answers = {};
    form.querySelectorAll("fieldset.question").forEach(function (f) {
      var c = f.querySelector("input:checked");
      if (c) { answers[f.dataset.question] = c.value; }
    });
    var body = {assignment: assignment, answers: answers, csrf: csrf,
                submission: form.querySelector("input[name=submission]").value};
    submit.disabled = true;
    var tries = 0;
    (function send() {
      tries += 1;
      post(form.action, body).then(function (r) {
        return r.json().then(function (j) {
          if (r.ok) { window.location.assign(j.next); } else { showError(j.error || "not accepted"); refresh(); }
        });
      }).catch(function () {
        // A dropped connection: retrying with the same submission id stores the vote once.
        if (tries < 5) { setTimeout(send, 500 * tries); } else { showError("connection lost; press Submit again"); refresh(); }
      });
    })();
  });

  refresh();
})();
