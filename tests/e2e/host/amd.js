/*
 * A tiny AMD loader for the e2e host page, standing in for Grafana's SystemJS: the host defines
 * the shared modules by name (react, @grafana/ui …), then loads the plugin's dist/module.js,
 * whose anonymous define([...deps], factory) is resolved against them. Unknown dependencies fail
 * loudly, which is how a wrong externals list shows up.
 */
(function () {
  'use strict';
  let registry = new Map();
  let anonymous = [];

  function instantiate(deps, factory, label) {
    let exportsObj = {};
    let moduleObj = { exports: exportsObj };
    let args = deps.map(function (d) {
      if (d === 'exports') {
        return exportsObj;
      }
      if (d === 'module') {
        return moduleObj;
      }
      if (d === 'require') {
        return function (name) {
          return registry.get(name);
        };
      }
      if (!registry.has(d)) {
        throw new Error('AMD: ' + label + ' depends on "' + d + '", which the host does not provide');
      }
      return registry.get(d);
    });
    let result = typeof factory === 'function' ? factory.apply(null, args) : factory;
    return result !== undefined ? result : moduleObj.exports;
  }

  function define(name, deps, factory) {
    if (typeof name !== 'string') {
      factory = deps;
      deps = name;
      name = null;
    }
    if (!Array.isArray(deps)) {
      factory = deps;
      deps = [];
    }
    if (name) {
      registry.set(name, instantiate(deps, factory, name));
    } else {
      anonymous.push({ deps: deps, factory: factory });
    }
  }
  define.amd = {};

  function load(url) {
    return new Promise(function (resolve, reject) {
      let s = document.createElement('script');
      s.src = url;
      s.onload = function () {
        let d = anonymous.shift();
        if (!d) {
          reject(new Error('AMD: ' + url + ' did not call define()'));
          return;
        }
        try {
          resolve(instantiate(d.deps, d.factory, url));
        } catch (e) {
          reject(e);
        }
      };
      s.onerror = function () {
        reject(new Error('AMD: failed to load ' + url));
      };
      document.head.appendChild(s);
    });
  }

  window.define = define;
  window.pgpulseAmd = {
    registry: registry,
    define: define,
    load: load,
    names: function () {
      return Array.from(registry.keys());
    },
  };
})();
