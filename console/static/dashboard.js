// The dashboard's charts, drawn by the vendored Chart.js from the figures the page carries.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  const line = (id, sets) => new Chart(document.getElementById(id), {
    type: "line",
    data: {labels: data.days, datasets: sets.map(([key, label]) => ({label, data: data[key]}))},
    options: {animation: false, responsive: true, scales: {y: {beginAtZero: true}}},
  });
  line("registrations", [["registrations", "新登记"]]);
  line("funnel", [["alerted", "通知"], ["accepted", "接活"], ["hired", "确认录用"]]);
  line("wages", [["paid_fen", "确认已付"], ["unpaid_fen", "未付"], ["recovered_fen", "追回"]]);
  document.body.dataset.chartsDrawn = "yes";
})();
