// The import page's progress: asks the import's status every second and shows the result page when it is done.
(function () {
  var box = document.getElementById('hoso-import-progress');
  if (!box) return;
  var bar = document.getElementById('hoso-import-bar');
  var count = document.getElementById('hoso-import-count');
  var stage = document.getElementById('hoso-import-stage');
  function poll() {
    fetch(box.dataset.status, {credentials: 'same-origin'}).then(function (r) {
      if (!r.ok) { window.location = box.dataset.page; return null; }
      return r.json();
    }).then(function (s) {
      if (!s) return;
      if (s.finished) { window.location = box.dataset.page; return; }
      bar.max = s.total || 1;
      bar.value = s.done;
      count.textContent = s.done + '/' + s.total;
      stage.textContent = s.label;
      setTimeout(poll, 1000);
    }).catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
