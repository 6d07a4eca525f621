// piccolo-admin's pages following the user's grants (admin/record_page.py, /hoso/record/grants/):
// * "add" and "delete" only where a role of the user grants them (the server refuses them anyway);
// * a delete (one row or the selected rows) asks for its reason, sent with each row's delete (`__reason`);
// * a row of a list opens the record's page, and so does a record just created;
// * the list of an entity links to its trash for users who may restore;
// * a new record's form stays hidden until its defaults arrive: piccolo-admin draws the form at once and then
//   redraws it with the defaults, which wiped what the user had typed or picked meanwhile.
(function () {
  var grants = null, pending = null, retry = null, asked = 0, reason = null, reasonAt = 0, loadingNew = 0;
  var hide = document.createElement('style');
  hide.textContent = '.hoso-form-loading form { visibility: hidden; }';
  document.head.appendChild(hide);
  function fetchGrants() {
    // the grants, fetched once they can be (a fetch before the login is refused, and tried again later)
    if (grants) return Promise.resolve(grants);
    if (!pending) {
      asked = Date.now();
      pending = fetch('./hoso/record/grants/', {credentials: 'same-origin'})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) { pending = null; if (j && !grants) apply(j); return grants; })
        .catch(function () { pending = null; return null; });
    }
    return pending;
  }
  function apply(j) {
    grants = j;
    var rules = [];
    Object.keys(j.tables).forEach(function (name) {
      if (!j.tables[name].create) rules.push('a[href="#/' + name + '/add/"], a[href="#/' + name + '/add"]');
    });
    var style = document.createElement('style');
    style.textContent = (rules.length ? rules.join(', ') + ' { display: none !important; }\n' : '') +
      '.hoso-no-delete [data-uitest="delete_row_button"] { display: none !important; }';
    document.head.appendChild(style);
    update();
  }
  function load() {
    // at most one fetch a second while the page changes; a change within that second asks again after it
    if (grants || pending || retry) return;
    var wait = 1000 - (Date.now() - asked);
    if (wait > 0) { retry = setTimeout(function () { retry = null; load(); }, wait); return; }
    fetchGrants();
  }
  function table() {
    var m = location.hash.match(/^#\/([^\/?]+)/);
    return m && grants && grants.tables[m[1]] ? m[1] : null;
  }
  function update() {
    if (!grants) { load(); return; }
    var name = table(), g = name ? grants.tables[name] : null;
    document.documentElement.classList.toggle('hoso-no-delete', !!name && !g.delete);
    var listing = /^#\/[^\/?]+\/?(\?.*)?$/.test(location.hash);
    var link = document.getElementById('hoso-trash-link');
    if (listing && g && g.restore) {
      var href = './hoso/trash/' + g.entity + '/';
      if (!link || link.getAttribute('href') !== href) {
        if (link) link.remove();
        var h1 = Array.prototype.find.call(document.querySelectorAll('h1'), function (h) { return h.offsetParent !== null; });
        if (h1) {
          link = document.createElement('a');
          link.id = 'hoso-trash-link';
          link.href = href;
          link.textContent = grants.trash;
          link.style.display = 'inline-block';
          link.style.margin = '0 0 1em 1em';
          h1.insertAdjacentElement('afterend', link);
        }
      }
    } else if (link) {
      link.remove();
    }
  }
  function recordUrl(name, id) {
    return './hoso/record/' + grants.tables[name].entity + '/' + id + '/';
  }
  document.addEventListener('click', function (ev) {
    if (!grants || !ev.target.closest) return;
    var del = ev.target.closest('[data-uitest="delete_row_button"]');
    if (del) {
      var given = window.prompt(grants.reason_prompt, '');
      if (given === null || !given.trim()) {
        if (given !== null) window.alert(grants.reason_needed);
        ev.preventDefault();
        ev.stopImmediatePropagation();
        return;
      }
      reason = given.trim();
      reasonAt = Date.now();
      return;
    }
    // a row of a list (its id or title links to the edit page): the record's page instead
    var a = ev.target.closest('table a[href^="#/"]');
    if (!a || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
    var m = a.getAttribute('href').match(/^#\/([^\/?]+)\/(\d+)\/?$/);
    if (m && grants.tables[m[1]] && grants.tables[m[1]].record && /^#\/[^\/?]+\/?(\?.*)?$/.test(location.hash)) {
      ev.preventDefault();
      ev.stopImmediatePropagation();
      location.href = recordUrl(m[1], m[2]);
    }
  }, true);
  var open = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, url) {
    var args = Array.prototype.slice.call(arguments), xhr = this, text = String(url);
    var m = text.match(/\/api\/tables\/([^\/?]+)\/(\d+)\/?(\?|$)/);
    if (String(method).toUpperCase() === 'DELETE' && m && reason && Date.now() - reasonAt < 120000) {
      args[1] = text + (text.indexOf('?') === -1 ? '?' : '&') + '__reason=' + encodeURIComponent(reason);
    }
    if (String(method).toUpperCase() === 'GET' && /\/api\/tables\/[^\/?]+\/new\/?(\?|$)/.test(text)) {
      loadingNew += 1;
      document.documentElement.classList.add('hoso-form-loading');
      xhr.addEventListener('loadend', function () {
        // after the page has applied the defaults (a promise continuation and a redraw, both before a timer)
        setTimeout(function () {
          loadingNew -= 1;
          if (!loadingNew) document.documentElement.classList.remove('hoso-form-loading');
        }, 0);
      });
    }
    var created = text.match(/\/api\/tables\/([^\/?]+)\/?$/);
    if (String(method).toUpperCase() === 'POST' && created) {
      xhr.addEventListener('load', function () {
        if (xhr.status !== 201) return;
        var rows = null;
        try { rows = JSON.parse(xhr.responseText); } catch (e) { return; /* not a row: stay */ }
        if (!rows || !rows[0] || !rows[0].id) return;
        // the grants may not have arrived yet when a user is quick: the record's page waits for them
        fetchGrants().then(function () {
          if (grants && grants.tables[created[1]] && grants.tables[created[1]].record) {
            location.href = recordUrl(created[1], rows[0].id) + '?created=1';
          }
        });
      });
    }
    return open.apply(this, args);
  };
  new MutationObserver(function () { update(); })
    .observe(document.documentElement, {subtree: true, childList: true});
  window.addEventListener('hashchange', update);
  load();
})();
