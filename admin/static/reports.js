// The admin's report page: draws the result's chart from the JSON block the page carries (no inline script,
// no network: Chart.js is served from the admin itself).
(function () {
  var data = document.getElementById('hoso-report-data');
  var canvas = document.getElementById('hoso-report-chart');
  if (!data || !canvas || typeof Chart === 'undefined') return;
  var spec = JSON.parse(data.textContent);
  var palette = ['#3889ce', '#ff6161', '#33b1ff', '#61a1d8', '#2d2d2d', '#ff9f40', '#4bc0c0', '#9966ff',
                 '#c9cbcf', '#ffcd56'];
  var datasets = spec.series.map(function (s, i) {
    return {label: s.label, data: s.values, backgroundColor: palette[i % palette.length],
            stack: spec.stacked ? 'all' : undefined};
  });
  var chart = new Chart(canvas, {
    type: 'bar',
    data: {labels: spec.labels, datasets: datasets},
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: {onComplete: function () { canvas.setAttribute('data-drawn', '1'); }},
      plugins: {legend: {position: 'bottom'}, title: {display: true, text: spec.title}},
      scales: {x: {stacked: spec.stacked}, y: {stacked: spec.stacked, beginAtZero: true, ticks: {precision: 0}}}
    }
  });
  window.hosoReportChart = chart;
})();
