// The job page follows its lines by asking every two seconds; every value is set as text.
"use strict";
(function () {
  const page = document.getElementById("job");
  const status = document.getElementById("live-status");
  function set(scope, field, value) {
    const cell = scope.querySelector(`[data-field="${field}"]`);
    if (cell) cell.textContent = String(value);
  }
  async function refresh() {
    try {
      const response = await fetch(page.dataset.live, {credentials: "same-origin"});
      if (!response.ok) throw new Error(String(response.status));
      const job = await response.json();
      status.hidden = true;
      set(page, "status_said", job.status_said);
      set(page, "waves_sent", job.waves_sent);
      for (const line of job.lines) {
        const row = page.querySelector(`tr[data-line="${line.line_id}"]`);
        if (!row) continue;
        set(row, "filled", line.filled);
        set(row, "remaining", line.remaining);
        for (const name of ["offered", "accepted", "confirmed"]) set(row, name, line.offers[name] || 0);
        set(row, "by_wave", Object.entries(line.by_wave).map(([w, n]) => `${w}:${n}`).join(" "));
      }
    } catch (error) {
      status.hidden = false;
    }
  }
  setInterval(refresh, 2000);
})();
