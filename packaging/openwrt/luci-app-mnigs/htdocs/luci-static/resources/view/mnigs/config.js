'use strict';
'require view';
'require form';
'require tools.widgets as widgets';

// The options of /etc/config/mnigs. Saving them reloads mnigs, which applies
// each changed option to /etc/mnigs/mnigs.yaml: through the running daemon
// where the key is live, so sessions stay up. The ranges are mnigsd's own.
// A Flag whose default differs from the key's (uci.sh reads a missing
// option as the key's default) is always written: rmempty = false.
return view.extend({
	render: function() {
		var m, s, o;

		m = new form.Map('mnigs', _('Mesh gateways'),
			_('mnigs finds Internet gateways on the mesh, tests them, pays where needed and ' +
			  'connects through a tunnel, switching when one fails; as a gateway it offers ' +
			  'this router\'s uplink. Other settings live in /etc/mnigs/mnigs.yaml and in ' +
			  'the web UI.'));

		s = m.section(form.NamedSection, 'main', 'mnigs', _('Daemon'));
		o = s.option(form.Flag, 'enabled', _('Enabled'));
		o.default = o.enabled;
		o.rmempty = false;
		o = s.option(form.Value, 'name', _('Node name'), _('Shown to other nodes; empty: the host name.'));
		o.datatype = 'maxlength(64)';
		o = s.option(form.ListValue, 'log_level', _('Log level'));
		o.value('error', _('Errors'));
		o.value('warn', _('Warnings'));
		o.value('info', _('Information'));
		o.value('debug', _('Debug'));
		o.default = 'info';
		o = s.option(form.Flag, 'webui_in_luci', _('Web UI in LuCI'),
			_('Lets the Overview page show the web UI on port 65533.'));
		o.default = o.enabled;
		o.rmempty = false;
		o = s.option(form.Value, 'webui_password', _('Web UI password'),
			_('For logins to the web UI from the LAN. Kept hashed: once applied it is removed ' +
			  'from here. Empty: unchanged.'));
		o.password = true;
		o.datatype = 'and(minlength(8),maxlength(256))';
		o.optional = true;

		s = m.section(form.NamedSection, 'gateway', 'gateway', _('Gateway'));
		o = s.option(form.Flag, 'enabled', _('Share the uplink'),
			_('Offer this router\'s Internet uplink to the mesh.'));
		o = s.option(widgets.NetworkSelect, 'uplink', _('Uplink'),
			_('Empty: the interface of the default route.'));
		o.nocreate = true;
		o.optional = true;
		o = s.option(form.Value, 'max_connections', _('Subscribers at once'));
		o.datatype = 'range(1,100000)';
		o.placeholder = '10';
		o = s.option(form.DynamicList, 'payment', _('Payment methods'),
			_('Most preferred first. webpage: a payment page with vouchers.'));
		o.value('free', _('free'));
		o.value('webpage', _('webpage'));
		o = s.option(form.DynamicList, 'tunnel', _('Tunnel methods'), _('Most preferred first.'));
		['forwarding', 'websocket', 'gre', 'ipip', 'openvpn', 'cjdns'].forEach(function(t) {
			o.value(t, t);
		});
		o = s.option(form.Value, 'throttle_kbit', _('Rate when paid time is used up (kbit/s)'),
			_('0: cut off, back to the payment page.'));
		o.datatype = 'range(0,1000000)';
		o.placeholder = '0';
		o = s.option(form.Value, 'title', _('Payment page title'));
		o.placeholder = _('Internet access');
		o = s.option(form.Value, 'currency', _('Currency'));
		o = s.option(form.Value, 'price_per_hour', _('Price per hour'));
		o.datatype = 'ufloat';
		o = s.option(form.Value, 'price_per_gb', _('Price per GB'));
		o.datatype = 'ufloat';
		o = s.option(form.Flag, 'voucher_only', _('Vouchers only'));
		o.default = o.enabled;

		s = m.section(form.NamedSection, 'subscriber', 'subscriber', _('Subscriber'));
		o = s.option(form.Flag, 'auto', _('Automatic'),
			_('Choose the best gateway, connect, and move to another when it fails.'));
		o = s.option(form.Value, 'max_price', _('Highest price'), _('0: free gateways only.'));
		o.datatype = 'range(0,1000000000)';
		o.placeholder = '0';
		o = s.option(form.DynamicList, 'prefer', _('Preferred gateways'),
			_('Address or name, chosen before all others, in this order.'));
		o = s.option(form.DynamicList, 'avoid', _('Avoided gateways'));
		o = s.option(form.ListValue, 'standby', _('Standby gateway'),
			_('A second gateway kept connected, so that a switch loses nothing.'));
		o.value('1', _('Yes'));
		o.value('0', _('No'));
		o.default = '1';

		s = m.section(form.NamedSection, 'discovery', 'discovery', _('Discovery'));
		o = s.option(form.DynamicList, 'interface', _('Networks'),
			_('Networks (lan) or devices on which neighbours announce themselves; none: every ' +
			  'interface that is up.'));
		o = s.option(form.DynamicList, 'static_peer', _('Known nodes'), _('Addresses to ask directly.'));
		o.datatype = 'ipaddr';
		o = s.option(form.Value, 'scan_interval', _('Seconds between scans'), _('0: only when asked.'));
		o.datatype = 'range(0,86400)';
		o.placeholder = '600';

		return m.render();
	}
});
