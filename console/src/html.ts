// htm bound to preact: tagged templates instead of JSX, so no compile step beyond bundling.
// Interpolated values are text (preact escapes them): names friends chose can never become markup.
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);
