/**
 * Browser APIs jsdom lacks but @grafana/ui uses at import or render time. Runs before the test
 * framework and before any module is imported.
 */
const { TextEncoder, TextDecoder } = require('node:util');

Object.assign(global, { TextEncoder, TextDecoder });

if (!window.matchMedia) {
  Object.defineProperty(window, 'matchMedia', {
    writable: true,
    value: (query) => ({
      matches: false,
      media: query,
      onchange: null,
      addListener: () => {},
      removeListener: () => {},
      addEventListener: () => {},
      removeEventListener: () => {},
      dispatchEvent: () => false,
    }),
  });
}

class ResizeObserverStub {
  observe() {}
  unobserve() {}
  disconnect() {}
}
global.ResizeObserver = global.ResizeObserver || ResizeObserverStub;
global.IntersectionObserver =
  global.IntersectionObserver ||
  class {
    observe() {}
    unobserve() {}
    disconnect() {}
    takeRecords() {
      return [];
    }
  };

// Combobox renders a virtual list: give elements a size so its rows are laid out in jsdom.
Object.defineProperty(Element.prototype, 'getBoundingClientRect', {
  configurable: true,
  value: () => ({ width: 400, height: 400, top: 0, left: 0, bottom: 400, right: 400, x: 0, y: 0, toJSON() {} }),
});
for (const prop of ['offsetHeight', 'offsetWidth', 'clientHeight', 'clientWidth']) {
  Object.defineProperty(HTMLElement.prototype, prop, { configurable: true, get: () => 400 });
}
HTMLElement.prototype.scrollIntoView = HTMLElement.prototype.scrollIntoView || function () {};
// Text measuring (Combobox menu width) needs a 2D context; jsdom has none.
HTMLCanvasElement.prototype.getContext = function () {
  return {
    font: '',
    measureText: (text) => ({
      width: String(text).length * 7,
      actualBoundingBoxAscent: 8,
      actualBoundingBoxDescent: 2,
    }),
    fillRect() {},
    clearRect() {},
    fillText() {},
  };
};
