'use strict';
'require view';
'require uci';

// The daemon's own web UI (port 65533) in a frame. mnigsd lets pages of the
// same host frame it when daemon.webuiFrameSameHost is on (the UCI option
// webui_in_luci). A LuCI page served over HTTPS cannot frame the UI's plain
// HTTP, so there it is a link.
return view.extend({
	load: function() {
		return uci.load('mnigs');
	},

	render: function() {
		var url = 'http://' + window.location.hostname + ':65533/';
		// As uci.sh reads it: only '1' lets mnigsd be framed. CSP cannot name
		// an IPv6 address, so on one the UI opens in a tab of its own.
		var framed = uci.get('mnigs', 'main', 'webui_in_luci') === '1' &&
			window.location.hostname.indexOf(':') < 0;
		var open = E('a', { href: url, target: '_blank', rel: 'noopener' }, _('Open the web UI'));

		if (!framed || window.location.protocol === 'https:') {
			return E('div', { class: 'cbi-section' }, [
				E('p', {}, framed
					? _('This page came over HTTPS, and the web UI speaks plain HTTP: it opens in a tab of its own.')
					: _('The web UI is not shown here (Settings: Web UI in LuCI, and not over IPv6).')),
				E('p', {}, open)
			]);
		}
		return E('div', { class: 'cbi-section' }, [
			E('iframe', {
				src: url,
				title: _('mnigs web UI'),
				style: 'width: 100%; min-height: 640px; border: none; resize: vertical;'
			}),
			E('p', {}, open)
		]);
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
