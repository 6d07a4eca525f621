// The record page's pickers (admin/record_page.py): typing in the search box above a picker asks the server for
// the rows the user may pick that match (ignoring case and diacritics), and lists them.
(function () {
  document.querySelectorAll('.rp-picker').forEach(function (box) {
    var q = box.querySelector('.rp-picker-q'), list = box.querySelector('select');
    var timer = null, asked = null;
    q.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var text = q.value;
        if (text === asked) return;
        asked = text;
        fetch(q.getAttribute('data-url') + '?' + new URLSearchParams({q: text}).toString(), {credentials: 'same-origin'})
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (rows) {
            if (q.value !== text) return;
            var keep = list.value;
            list.innerHTML = '';
            rows.forEach(function (row) {
              var o = document.createElement('option');
              o.value = String(row[0]);
              o.textContent = row[1];
              if (o.value === keep) o.selected = true;
              list.appendChild(o);
            });
            if (rows.length === 1) list.value = String(rows[0][0]);
          });
      }, 200);
    });
  });
})();
// The edit form: a change to a field the form's conditions read draws the form again for the values chosen (the
// fields that then apply), saving nothing.
(function () {
  var form = document.getElementById('hoso-record-edit-form');
  if (!form) return;
  var redraw = (form.getAttribute('data-redraw') || '').split(',').filter(Boolean);
  form.addEventListener('change', function (ev) {
    if (!ev.target.name || redraw.indexOf(ev.target.name) === -1) return;
    var flag = document.createElement('input');
    flag.type = 'hidden';
    flag.name = '__redraw';
    flag.value = '1';
    form.appendChild(flag);
    form.submit();
  });
})();
