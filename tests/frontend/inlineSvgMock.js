// Icons: react-inlinesvg fetches each SVG and updates state later, which only adds act() noise
// in jsdom. Render a plain <svg> with the same props instead.
const React = require('react');

function InlineSVG({ src, title, innerRef, loader, cacheRequests, ...rest }) {
  return React.createElement(
    'svg',
    { 'data-src': src, ...rest },
    title ? React.createElement('title', null, title) : null
  );
}
module.exports = InlineSVG;
module.exports.default = InlineSVG;
module.exports.cacheStore = {};
