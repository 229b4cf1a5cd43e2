#!/bin/sh
# uninstall.sh: take the Portico agent off an OpenWrt router and put back the configuration
# install.sh found there (it saved it in /etc/portico/backup at the first install). As root:
#
#   sh /etc/portico/installer/uninstall.sh [--remove-packages]
#
# It stops and disables the agent; restores openNDS's configuration as it was (uci import) and
# the LAN's DHCP option 114; removes the agent's configuration (with its broker password), its
# files, dnsmasq's lease hook (/etc/hotplug.d/dhcp/90-portico), the installer's copy and the
# lines install.sh added to /etc/sysupgrade.conf; and restarts openNDS and reloads dnsmasq
# (which stops calling hooks when none is left). Packages stay, unless --remove-packages: then
# the ones install.sh added are removed (a mosquitto-client-nossl it replaced is not put
# back). The router's broker account still exists: revoke the router in the console (or
# `portico router revoke`).
#
# PORTICO_ROOT=DIR works on DIR instead of / (as install.sh does): no service is touched.

ROOT=${PORTICO_ROOT:-}
STATE=/etc/portico
DHCP_HOOK=/etc/hotplug.d/dhcp/90-portico
BACKUP=$ROOT$STATE/backup

say() {
	printf 'portico uninstall: %s\n' "$*"
}

die() {
	printf 'portico uninstall: error: %s\n' "$*" >&2
	exit 1
}

REMOVE_PACKAGES=0
while [ $# -gt 0 ]; do
	case $1 in
	--remove-packages) REMOVE_PACKAGES=1 ;;
	*)
		printf 'portico uninstall: error: unknown argument: %s\n' "$1" >&2
		echo "usage: sh uninstall.sh [--remove-packages]" >&2
		exit 2
		;;
	esac
	shift
done

uci_root() {
	if [ -n "$ROOT" ]; then uci -c "$ROOT/etc/config" "$@"; else uci "$@"; fi
}

pkg_remove() {
	if command -v apk >/dev/null 2>&1; then
		if [ -n "$ROOT" ]; then apk --root "$ROOT" del "$@"; else apk del "$@"; fi
	else
		if [ -n "$ROOT" ]; then opkg -o "$ROOT" remove "$@"; else opkg remove "$@"; fi
	fi
}

stop_agent() {
	[ -z "$ROOT" ] || return 0
	if [ -x /etc/init.d/portico-agent ]; then
		/etc/init.d/portico-agent stop
		/etc/init.d/portico-agent disable
	fi
}

# restore_config NAME: the configuration as install.sh found it.
restore_config() {
	if [ -f "$BACKUP/$1.uci" ]; then
		uci_root import "$1" <"$BACKUP/$1.uci" || die "uci import $1 failed"
		uci_root commit "$1" || die "uci commit $1 failed"
		say "$1 configuration restored"
	elif [ "$1" = portico ]; then
		rm -f "$ROOT/etc/config/portico" # there was none before: it holds the broker password
		say "agent configuration removed"
	elif [ "$1" = opennds ]; then
		forget_fas_settings
	fi
}

# openNDS had no configuration before install.sh (its package came with it): take out what
# install.sh set, so that openNDS falls back to its own defaults.
forget_fas_settings() {
	section='opennds.@opennds[0]'
	[ -n "$(uci_root -q get portico.install.faspath)" ] || return 0
	for option in login_option_enabled fas_secure_enabled fasport faspath faskey \
		fasremotefqdn fasremoteip gatewayname; do
		uci_root -q delete "$section.$option"
	done
	host=$(uci_root -q get portico.install.fasremoteip)
	[ -n "$host" ] || host=$(uci_root -q get portico.install.walledgarden_host)
	port=$(uci_root -q get portico.install.walledgarden_port)
	uci_root -q del_list "$section.preauthenticated_users=allow tcp port $port to $host"
	uci_root commit opennds || die "uci commit opennds failed"
	say "openNDS: the FAS settings install.sh made are removed (openNDS defaults apply)"
}

# The LAN's DHCP option 114 as it was: install.sh's is dropped, an earlier one comes back;
# every other DHCP option (and anything changed since) stays as it is.
restore_dhcp_option() {
	[ -f "$BACKUP/dhcp_option" ] || return 0
	changed=''
	for option in $(uci_root -q get dhcp.lan.dhcp_option); do
		case $option in
		114,* | option:114,* | option:captive-portal,*)
			uci_root del_list "dhcp.lan.dhcp_option=$option" || die "uci del_list dhcp failed"
			changed=1
			;;
		esac
	done
	# uci prints a list on one line, its values separated by spaces (none holds a space).
	# shellcheck disable=SC2013
	for option in $(cat "$BACKUP/dhcp_option"); do
		case $option in
		114,* | option:114,* | option:captive-portal,*)
			uci_root add_list "dhcp.lan.dhcp_option=$option" || die "uci add_list dhcp failed"
			changed=1
			;;
		esac
	done
	[ -n "$changed" ] || return 0
	uci_root commit dhcp || die "uci commit dhcp failed"
	say "DHCP option 114 restored"
}

forget_sysupgrade_lines() {
	conf="$ROOT/etc/sysupgrade.conf"
	[ -f "$conf" ] || return 0
	for path in /etc/config/portico "$STATE/" /usr/sbin/portico-agent /usr/lib/portico/ \
		/etc/init.d/portico-agent "$DHCP_HOOK"; do
		if grep -qxF "$path" "$conf"; then
			grep -vxF "$path" "$conf" >"$conf.new" || : # nothing left is fine
			mv "$conf.new" "$conf" || die "cannot rewrite $conf"
		fi
	done
}

remove_packages() {
	list="$BACKUP/packages-added"
	if [ ! -s "$list" ]; then
		[ "$REMOVE_PACKAGES" = 0 ] || say "install.sh added no packages"
		return 0
	fi
	packages=$(tr '\n' ' ' <"$list")
	if [ "$REMOVE_PACKAGES" = 0 ]; then
		say "packages install.sh added stay installed: $packages(--remove-packages removes them)"
		return 0
	fi
	# shellcheck disable=SC2086 # one argument per package
	pkg_remove $packages || die "could not remove $packages"
	say "removed $packages"
}

# remove_empty_dir DIR: DIR goes once empty (install.sh made it for the hook); another
# package's hooks keep it.
remove_empty_dir() {
	[ -d "$1" ] || return 0
	[ -n "$(ls -A "$1")" ] || rmdir "$1" || die "cannot remove $1"
}

restart_services() {
	[ -z "$ROOT" ] || return 0
	[ ! -x /etc/init.d/opennds ] || /etc/init.d/opennds restart
	[ ! -x /etc/init.d/dnsmasq ] || /etc/init.d/dnsmasq reload
}

if [ ! -f "$BACKUP/complete" ]; then
	say "warning: no saved configuration in $STATE/backup; removing the agent only"
fi
stop_agent
restore_config opennds
restore_dhcp_option
restore_config portico
forget_sysupgrade_lines
remove_packages
rm -f "$ROOT/usr/sbin/portico-agent" "$ROOT/etc/init.d/portico-agent" "$ROOT$DHCP_HOOK"
remove_empty_dir "$ROOT${DHCP_HOOK%/*}"
rm -rf "$ROOT/usr/lib/portico" "$ROOT/tmp/portico"
rm -rf "$ROOT$STATE" # the backup and the installer's copy, this script included
restart_services
say "done: the router is as it was before install.sh; revoke it in the Portico console too"
