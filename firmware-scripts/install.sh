#!/bin/sh
# install.sh: bring an OpenWrt router with openNDS online in Portico. Run as root from the
# directory that holds this script and files/. The console prints one line that fetches this
# installer from the portal and runs it with the router's install code:
#
#   wget -qO- https://wifi.example.com/i/CODE | sh
#   (which runs: sh install.sh --claim CODE --portal https://wifi.example.com)
#
# Other ways to run it:
#   sh install.sh --device-id ap-1 --password SECRET --broker mqtt.example.com:8883
#       the agent only, with credentials you have (openNDS is left as it is)
#   sh /etc/portico/installer/install.sh
#       again, with the settings saved by an earlier run (after a sysupgrade, or to repair)
#
# Options (--name VALUE or --name=VALUE):
#   --claim CODE          the router's install code (single use; from the console or
#                         `portico router add`); needs --portal
#   --portal URL          the portal, https:// (http:// only on loopback, or with
#                         PORTICO_ALLOW_HTTP=1 set)
#   --device-id ID        [A-Za-z0-9_-]{1,64}, the router's MQTT username (without --claim)
#   --password PASSWORD   its MQTT password; or set PORTICO_PASSWORD, which keeps it out of ps
#   --broker HOST[:PORT]  the broker; the port defaults to 8883, or 1883 with --no-tls
#   --no-tls              plain MQTT, for a broker on a trusted network only
#   --cafile PATH         CA certificate of the broker (default: the system's CA bundle)
#   --heartbeat SECONDS   how often the agent republishes its status (default 60)
#   --captive-api-url URL the RFC 8908 Captive Portal API URI that the router's DHCP server
#                         hands to phones (DHCPv4 option 114, RFC 8910), https:// only
#
# With --claim it redeems the code at the portal (once: running the same command again on the
# same router reuses what it got), which answers the router's own MQTT password, the broker's
# address, its faskey and the FAS settings. It installs the packages it needs with opkg, or
# apk on newer OpenWrt (a mosquitto-client-nossl in the way is removed first), copies files/
# into place (the agent, its service, dnsmasq's lease hook for its DHCP telemetry), configures
# the agent and openNDS with uci (FAS pointing at the portal, faskey, gateway name, walled
# garden for the portal host), keeps the credentials across sysupgrade (/etc/sysupgrade.conf),
# starts both services, reloads dnsmasq and ends with a self-check that names in plain words
# anything wrong. The configuration it changes is saved first in /etc/portico/backup,
# once: uninstall.sh puts it back. Exit status: 0 installed, 1 failed, 2 bad arguments,
# 3 installed but the self-check found a problem.
#
# PORTICO_ROOT=DIR installs into DIR instead of / (an image tree, or a test): packages go
# there (opkg -o / apk --root), settings through uci -c, and no service is enabled or started.

ROOT=${PORTICO_ROOT:-}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$HERE/files
STATE=/etc/portico       # the installer's own files on the router: backup/, installer/
DHCP_HOOK=/etc/hotplug.d/dhcp/90-portico # dnsmasq's lease hook, for the agent
CLOCK_SKEW_MAX=30        # seconds between the router's clock and the portal's that still work
NET_TIMEOUT=20           # seconds for each download and broker check
TAB=$(printf '\t')

say() {
	printf 'portico install: %s\n' "$*"
}

die() {
	printf 'portico install: error: %s\n' "$*" >&2
	exit 1
}

usage_error() {
	printf 'portico install: error: %s\n' "$*" >&2
	echo "usage: sh install.sh --claim CODE --portal URL" >&2
	echo "   or: sh install.sh --device-id ID --password PASSWORD --broker HOST[:PORT]" \
		"[--no-tls] [--cafile PATH] [--heartbeat SECONDS] [--captive-api-url URL]" >&2
	exit 2
}

is_uint() {
	case $1 in '' | *[!0-9]*) return 1 ;; esac
}

# is_port TEXT: 1..65535
is_port() {
	is_uint "$1" && [ "${#1}" -le 5 ] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]
}

with_timeout() {
	if command -v timeout >/dev/null 2>&1; then
		timeout "$NET_TIMEOUT" "$@"
	else
		"$@"
	fi
}

# ---- arguments ----

parse_args() {
	CLAIM='' PORTAL='' DEVICE_ID='' PASSWORD=${PORTICO_PASSWORD:-} BROKER='' TLS=1 CAFILE=''
	HEARTBEAT=60 CAPTIVE_API_URL='' GIVEN=''
	while [ $# -gt 0 ]; do
		case $1 in
		--no-tls)
			TLS=0 GIVEN=1
			shift
			continue
			;;
		--*=*)
			name=${1%%=*} value=${1#*=}
			shift
			;;
		--*)
			[ $# -ge 2 ] || usage_error "$1 needs a value"
			name=$1 value=$2
			shift 2
			;;
		*) usage_error "unexpected argument: $1" ;;
		esac
		GIVEN=1
		case $name in
		--claim) CLAIM=$value ;;
		--portal) PORTAL=${value%/} ;;
		--device-id) DEVICE_ID=$value ;;
		--password) PASSWORD=$value ;;
		--broker) BROKER=$value ;;
		--cafile) CAFILE=$value ;;
		--heartbeat) HEARTBEAT=$value ;;
		--captive-api-url) CAPTIVE_API_URL=$value ;;
		*) usage_error "unknown option: $name" ;;
		esac
	done
	if [ -n "$CLAIM" ] || [ -n "$PORTAL" ]; then
		MODE=claim
	elif [ -n "$GIVEN" ] || [ -n "$PASSWORD" ]; then
		MODE=manual
	else
		MODE=again
	fi
}

validate_args() {
	case $MODE in
	claim) validate_claim_args ;;
	manual) validate_manual_args ;;
	esac
	validate_captive_api_url
}

validate_claim_args() {
	[ -n "$CLAIM" ] || usage_error "--portal needs --claim CODE (the router's install code)"
	[ -n "$PORTAL" ] || usage_error "--claim needs --portal URL (where the code was made)"
	case $CLAIM in *[!a-z2-7]*) usage_error "--claim must be the 20-letter install code" ;; esac
	[ "${#CLAIM}" -eq 20 ] || usage_error "--claim must be the 20-letter install code"
	[ -z "$DEVICE_ID$BROKER" ] || usage_error "--claim gets the device id and broker from the portal"
	case $PORTAL in
	https://?*) ;;
	http://127.* | http://localhost | http://localhost:* | http://\[::1\]*) ;;
	http://?*)
		[ "${PORTICO_ALLOW_HTTP:-}" = 1 ] ||
			usage_error "--portal must be https:// (the code and the router's password travel" \
				"over it); set PORTICO_ALLOW_HTTP=1 to allow plain http on a trusted network"
		;;
	*) usage_error "--portal must be an https:// URL" ;;
	esac
	case $PORTAL in *[!!-~]* | *[\'\"\\\`\$]*) usage_error "--portal must be a plain URL" ;; esac
}

validate_manual_args() {
	[ -n "$DEVICE_ID" ] || usage_error "--device-id is required (or use --claim CODE --portal URL)"
	case $DEVICE_ID in *[!A-Za-z0-9_-]*) usage_error "--device-id must match [A-Za-z0-9_-]{1,64}" ;; esac
	[ "${#DEVICE_ID}" -le 64 ] || usage_error "--device-id must match [A-Za-z0-9_-]{1,64}"

	[ -n "$PASSWORD" ] || usage_error "--password (or PORTICO_PASSWORD) is required"
	check_password || usage_error "--password must be printable ASCII without spaces"

	[ -n "$BROKER" ] || usage_error "--broker is required"
	HOST=${BROKER%:*}
	if [ "$HOST" = "$BROKER" ]; then
		if [ "$TLS" = 1 ]; then PORT=8883; else PORT=1883; fi
	else
		PORT=${BROKER##*:}
	fi
	check_host "$HOST" || usage_error "--broker host must be a host name or IPv4 address"
	is_port "$PORT" || usage_error "--broker port must be 1..65535"

	if ! { is_uint "$HEARTBEAT" && [ "$HEARTBEAT" -ge 1 ] && [ "$HEARTBEAT" -le 86400 ]; }; then
		usage_error "--heartbeat must be 1..86400 seconds"
	fi
	if [ -n "$CAFILE" ] && [ ! -r "$ROOT$CAFILE" ]; then
		usage_error "--cafile $CAFILE is not a readable file"
	fi
	[ "$TLS" = 1 ] || say "warning: --no-tls sends the password in clear text"
}

# Printable ASCII without spaces: it goes through uci and a line-based config file.
check_password() {
	case $PASSWORD in '' | *[!!-~]*) return 1 ;; esac
}

check_host() {
	case $1 in '' | *[!A-Za-z0-9.-]*) return 1 ;; esac
}

# RFC 8908 wants the API over TLS; RFC 8910 keeps the URI to 255 bytes. dnsmasq splits an
# option's value at commas, and the value goes through uci: no commas, quotes or spaces.
validate_captive_api_url() {
	[ -n "$CAPTIVE_API_URL" ] || return 0
	case $CAPTIVE_API_URL in
	https://?*) ;;
	*) usage_error "--captive-api-url must be an https:// URL" ;;
	esac
	case $CAPTIVE_API_URL in
	*[!!-~]* | *[,#\'\"\\]*)
		usage_error "--captive-api-url must be printable ASCII without spaces, commas, quotes or #"
		;;
	esac
	[ "${#CAPTIVE_API_URL}" -le 255 ] || usage_error "--captive-api-url must be at most 255 bytes"
}

# ---- uci and packages, inside PORTICO_ROOT when set ----

uci_root() {
	if [ -n "$ROOT" ]; then uci -c "$ROOT/etc/config" "$@"; else uci "$@"; fi
}

uci_get() {
	uci_root -q get "$1" 2>/dev/null
}

# OpenWrt 24.10 and older use opkg; newer ones apk.
detect_package_manager() {
	if command -v apk >/dev/null 2>&1; then
		PKG=apk
	elif command -v opkg >/dev/null 2>&1; then
		PKG=opkg
	else
		die "neither apk nor opkg found: is this OpenWrt?"
	fi
}

pkg() {
	if [ "$PKG" = apk ]; then
		if [ -n "$ROOT" ]; then apk --root "$ROOT" "$@"; else apk "$@"; fi
	else
		if [ -n "$ROOT" ]; then opkg -o "$ROOT" "$@"; else opkg "$@"; fi
	fi
}

# is_installed PACKAGE
is_installed() {
	if [ "$PKG" = apk ]; then
		pkg info -e "$1" >/dev/null 2>&1
	else
		printf '%s\n' "$INSTALLED" | awk -v p="$1" '$1 == p { found = 1 } END { exit !found }'
	fi
}

pkg_update() {
	pkg update || die "$PKG update failed: can the router reach its package feeds?"
}

# pkg_install PACKAGE...
pkg_install() {
	if [ "$PKG" = apk ]; then pkg add "$@"; else pkg install "$@"; fi
}

# pkg_remove PACKAGE...
pkg_remove() {
	if [ "$PKG" = apk ]; then pkg del "$@"; else pkg remove "$@"; fi
}

install_packages() {
	wanted="mosquitto-client-ssl opennds"
	# Without --cafile the agent verifies the broker against the system's CA bundle.
	if [ "$TLS" = 1 ] && [ -z "$CAFILE" ]; then wanted="$wanted ca-bundle"; fi
	# openNDS needs PHP with OpenSSL to encrypt its redirects at FAS levels 2 and 3.
	if [ "${FAS_LEVEL:-1}" -ge 2 ]; then wanted="$wanted php8-cli php8-mod-openssl"; fi
	if [ "$PKG" = opkg ]; then
		INSTALLED=$(pkg list-installed) || die "opkg list-installed failed"
	fi
	conflicting=''
	client=mosquitto-client-ssl
	if [ "$TLS" = 0 ] && is_installed mosquitto-client-nossl; then
		client='' # plain MQTT: the client without TLS does the job; keep it
	else
		for package in mosquitto-client-nossl libmosquitto-nossl; do
			if is_installed "$package"; then conflicting="$conflicting $package"; fi
		done
	fi
	missing=''
	for package in $wanted; do
		[ "$package" != mosquitto-client-ssl ] || [ -n "$client" ] || continue
		is_installed "$package" || missing="$missing $package"
	done
	if [ -z "$missing" ] && [ -z "$conflicting" ]; then
		say "packages already installed: $wanted"
		return
	fi
	pkg_update
	if [ -n "$conflicting" ]; then
		# mosquitto-client-ssl and its libmosquitto-ssl conflict with the nossl builds.
		say "removing$conflicting (mosquitto-client-ssl replaces it)"
		# shellcheck disable=SC2086 # one argument per package
		pkg_remove $conflicting || die "$PKG could not remove$conflicting"
		# shellcheck disable=SC2086
		record_packages removed $conflicting
	fi
	[ -n "$missing" ] || return 0
	say "installing$missing"
	# shellcheck disable=SC2086 # one argument per package
	pkg_install $missing || die "$PKG could not install$missing"
	# shellcheck disable=SC2086
	record_packages added $missing
}

# record_packages added|removed PACKAGE...: what uninstall.sh may undo.
record_packages() {
	list="$ROOT$STATE/backup/packages-$1"
	shift
	for package in "$@"; do
		grep -qx "$package" "$list" 2>/dev/null || echo "$package" >>"$list"
	done
}

# ---- backup (once), for uninstall.sh ----

backup_config() {
	backup="$ROOT$STATE/backup"
	if [ -f "$backup/complete" ]; then
		say "earlier configuration already saved in $STATE/backup (kept from the first install)"
		return
	fi
	mkdir -p "$backup" || die "cannot create $backup"
	for config in opennds portico; do
		if ! uci_root export "$config" >"$backup/$config.uci" 2>/dev/null; then
			rm -f "$backup/$config.uci" # there was no such configuration
		fi
	done
	# Of dnsmasq's configuration only the LAN's DHCP options may change (option 114).
	uci_get dhcp.lan.dhcp_option >"$backup/dhcp_option" || : >"$backup/dhcp_option"
	if [ -f "$ROOT/etc/sysupgrade.conf" ]; then
		cp "$ROOT/etc/sysupgrade.conf" "$backup/sysupgrade.conf" || die "cannot back up sysupgrade.conf"
	fi
	: >"$backup/complete"
	say "earlier configuration saved in $STATE/backup (uninstall.sh puts it back)"
}

# ---- the install code ----

code_sha256() {
	printf '%s' "$CLAIM" | sha256sum | cut -d ' ' -f 1
}

# Redeem the code at the portal, unless this router already redeemed it (a second run).
redeem_claim() {
	sha=$(code_sha256)
	if [ "$(uci_get portico.install.claim_sha256)" = "$sha" ] && [ -n "$(uci_get portico.agent.password)" ]; then
		say "this router redeemed this install code before: keeping the credentials it got"
		load_saved_claim
		return
	fi
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/portico-claim.XXXXXX") || die "cannot create a temporary folder"
	if ! with_timeout wget -q -O "$tmp/answer" --post-data '' "$PORTAL/i/$CLAIM" 2>"$tmp/err"; then
		reason=$(claim_failure "$tmp/err")
		rm -rf "$tmp"
		die "$reason"
	fi
	read_claim "$tmp/answer"
	rm -rf "$tmp"
	validate_claim
	save_claim "$sha"
	say "install code redeemed: this router is $DEVICE_ID, with its own broker account"
}

# What went wrong, from wget's message (busybox wget and uclient-fetch name the HTTP status;
# neither shows the answer's body on an error).
claim_failure() {
	# busybox: "server returned error: HTTP/1.1 409 Conflict"; uclient-fetch: "HTTP error 409"
	status=$(sed -n -e 's/.*HTTP\/[0-9.]* \([1-5][0-9][0-9]\).*/\1/p' \
		-e 's/.*HTTP error \([1-5][0-9][0-9]\).*/\1/p' "$1" | head -n 1)
	case $status in
	404) echo "the portal does not know this install code: check that the command was copied whole" ;;
	409) echo "this install code was used already by another installation: make a new one in the console (Routers, New install code)" ;;
	410) echo "this install code has expired, was replaced by a newer one, or its router was revoked: make a new one in the console" ;;
	429) echo "too many wrong install codes from this address: wait 15 minutes, then run the command again" ;;
	'') echo "cannot reach the portal at $PORTAL: $(head -c 200 "$1")" ;;
	*) echo "the portal answered HTTP $status to the install code: $(head -c 200 "$1")" ;;
	esac
}

# read_claim FILE: the portal's key=value lines (controller/device_routes.py).
read_claim() {
	DEVICE_ID='' PASSWORD='' HOST='' PORT='' TLS='' FASKEY='' FAS_LEVEL='' FASREMOTEFQDN=''
	FASREMOTEIP='' FASPORT='' FASPATH='' GATEWAYNAME='' WG_HOST='' WG_PORT='' SERVER_TIME=''
	while IFS= read -r line; do
		value=${line#*=}
		case ${line%%=*} in
		router_id) DEVICE_ID=$value ;;
		mqtt_password) PASSWORD=$value ;;
		broker_host) HOST=$value ;;
		broker_port) PORT=$value ;;
		broker_tls) TLS=$value ;;
		faskey) FASKEY=$value ;;
		fas_level) FAS_LEVEL=$value ;;
		fasremotefqdn) FASREMOTEFQDN=$value ;;
		fasremoteip) FASREMOTEIP=$value ;;
		fasport) FASPORT=$value ;;
		faspath) FASPATH=$value ;;
		gatewayname) GATEWAYNAME=$value ;;
		walledgarden_host) WG_HOST=$value ;;
		walledgarden_port) WG_PORT=$value ;;
		captive_api_url) [ -n "$CAPTIVE_API_URL" ] || CAPTIVE_API_URL=$value ;;
		heartbeat) HEARTBEAT=$value ;;
		server_time) SERVER_TIME=$value ;;
		esac
	done <"$1"
}

# Everything the portal sent is checked before it reaches uci or a command line.
validate_claim() {
	bad=''
	case $DEVICE_ID in '' | *[!A-Za-z0-9_-]*) bad="$bad router_id" ;; esac
	check_password || bad="$bad mqtt_password"
	check_host "$HOST" || bad="$bad broker_host"
	is_port "$PORT" || bad="$bad broker_port"
	case $TLS in 0 | 1) ;; *) bad="$bad broker_tls" ;; esac
	case $FASKEY in '' | *[!A-Za-z0-9]*) bad="$bad faskey" ;; esac
	case $FAS_LEVEL in 1 | 2 | 3) ;; *) bad="$bad fas_level" ;; esac
	[ -z "$FASREMOTEFQDN" ] || check_host "$FASREMOTEFQDN" || bad="$bad fasremotefqdn"
	case $FASREMOTEIP in *[!0-9.]*) bad="$bad fasremoteip" ;; esac
	[ -n "$FASREMOTEFQDN$FASREMOTEIP" ] || bad="$bad fasremotefqdn"
	is_port "$FASPORT" || bad="$bad fasport"
	case $FASPATH in /*) ;; *) bad="$bad faspath" ;; esac
	case $FASPATH in *[!A-Za-z0-9/_.~-]*) bad="$bad faspath" ;; esac
	case $GATEWAYNAME in '' | *"'"*) bad="$bad gatewayname" ;; esac
	check_host "$WG_HOST" || bad="$bad walledgarden_host"
	is_port "$WG_PORT" || bad="$bad walledgarden_port"
	is_uint "$HEARTBEAT" || bad="$bad heartbeat"
	is_uint "$SERVER_TIME" || bad="$bad server_time"
	[ -z "$bad" ] || die "the portal's answer to the install code is not usable (bad:$bad)"
	[ "$TLS" = 1 ] || say "warning: the broker is plain MQTT: the router's password travels in clear text"
	validate_captive_api_url
	CLAIM_RECEIVED_AT=$(date +%s)
}

save_claim() {
	uci_root set portico.install=install || die "uci set portico.install failed"
	for setting in "portal_url=$PORTAL" "claim_sha256=$1" "faskey=$FASKEY" \
		"fas_level=$FAS_LEVEL" "fasremotefqdn=$FASREMOTEFQDN" "fasremoteip=$FASREMOTEIP" \
		"fasport=$FASPORT" "faspath=$FASPATH" "gatewayname=$GATEWAYNAME" \
		"walledgarden_host=$WG_HOST" "walledgarden_port=$WG_PORT" \
		"captive_api_url=$CAPTIVE_API_URL"; do
		uci_root set "portico.install.$setting" || die "uci set portico.install.${setting%%=*} failed"
	done
	configure_agent
}

load_saved_claim() {
	DEVICE_ID=$(uci_get portico.agent.device_id)
	PASSWORD=$(uci_get portico.agent.password)
	HOST=$(uci_get portico.agent.broker_host)
	PORT=$(uci_get portico.agent.broker_port)
	TLS=$(uci_get portico.agent.tls)
	CAFILE=$(uci_get portico.agent.cafile)
	HEARTBEAT=$(uci_get portico.agent.heartbeat)
	for option in faskey fas_level fasremotefqdn fasremoteip fasport faspath gatewayname \
		walledgarden_host walledgarden_port captive_api_url; do
		value=$(uci_get "portico.install.$option")
		case $option in
		faskey) FASKEY=$value ;;
		fas_level) FAS_LEVEL=$value ;;
		fasremotefqdn) FASREMOTEFQDN=$value ;;
		fasremoteip) FASREMOTEIP=$value ;;
		fasport) FASPORT=$value ;;
		faspath) FASPATH=$value ;;
		gatewayname) GATEWAYNAME=$value ;;
		walledgarden_host) WG_HOST=$value ;;
		walledgarden_port) WG_PORT=$value ;;
		captive_api_url) [ -n "$CAPTIVE_API_URL" ] || CAPTIVE_API_URL=$value ;;
		esac
	done
	SERVER_TIME=''
}

# A run with no arguments: the settings an earlier run saved.
load_saved_settings() {
	[ -n "$(uci_get portico.agent.password)" ] ||
		usage_error "nothing saved from an earlier install: give --claim CODE --portal URL"
	load_saved_claim
	PORTAL=$(uci_get portico.install.portal_url)
	[ -n "$PORTAL" ] || MODE=manual # installed with --device-id: the agent only
	say "installing again with the settings saved for router $DEVICE_ID"
}

# ---- files and settings ----

# copy_file SOURCE DEST MODE
copy_file() {
	mkdir -p "$(dirname "$2")" || die "cannot create $(dirname "$2")"
	cp "$1" "$2" || die "cannot copy $1 to $2"
	chmod "$3" "$2" || die "cannot chmod $2"
}

ensure_config_file() {
	# Keep an existing config (and any option set by hand); uci updates our options.
	if [ ! -f "$ROOT/etc/config/portico" ]; then
		copy_file "$SRC/etc/config/portico" "$ROOT/etc/config/portico" 600
	fi
}

install_files() {
	[ -f "$SRC/usr/sbin/portico-agent" ] ||
		die "$SRC/usr/sbin/portico-agent not found: run install.sh from its own directory"
	copy_file "$SRC/usr/sbin/portico-agent" "$ROOT/usr/sbin/portico-agent" 755
	copy_file "$SRC/usr/lib/portico/json.awk" "$ROOT/usr/lib/portico/json.awk" 644
	copy_file "$SRC/etc/init.d/portico-agent" "$ROOT/etc/init.d/portico-agent" 755
	# dnsmasq's lease hook (sourced by procd, hence not executable): DHCP option 55 for the
	# agent's `dhcp` telemetry. dnsmasq calls hooks only after a reload (start_services).
	copy_file "$SRC$DHCP_HOOK" "$ROOT$DHCP_HOOK" 644
	# A copy of the installer stays on the router: run it again after a sysupgrade.
	installer="$ROOT$STATE/installer"
	if [ "$HERE" != "$installer" ]; then
		rm -rf "$installer.new"
		mkdir -p "$installer.new" || die "cannot create $installer"
		cp -R "$HERE/install.sh" "$HERE/uninstall.sh" "$HERE/files" "$installer.new/" ||
			die "cannot keep a copy of the installer in $installer"
		rm -rf "$installer"
		mv "$installer.new" "$installer" || die "cannot update $installer"
	fi
	say "files installed under ${ROOT:-/}"
}

configure_agent() {
	uci_root set portico.agent=agent || die "uci set portico.agent failed"
	for setting in "device_id=$DEVICE_ID" "password=$PASSWORD" "broker_host=$HOST" \
		"broker_port=$PORT" "tls=$TLS" "cafile=$CAFILE" "heartbeat=$HEARTBEAT" "enabled=1"; do
		uci_root set "portico.agent.$setting" || die "uci set portico.agent.${setting%%=*} failed"
	done
	uci_root commit portico || die "uci commit portico failed"
	say "agent settings written to $ROOT/etc/config/portico"
}

# openNDS 11's own option names (its src/conf.c and /etc/config/opennds).
configure_opennds() {
	section='opennds.@opennds[0]'
	uci_get "$section" >/dev/null || uci_root add opennds opennds >/dev/null ||
		die "uci add opennds failed"
	for setting in "enabled=1" "login_option_enabled=0" "fas_secure_enabled=$FAS_LEVEL" \
		"fasport=$FASPORT" "faspath=$FASPATH" "faskey=$FASKEY" "gatewayname=$GATEWAYNAME"; do
		uci_root set "$section.$setting" || die "uci set opennds ${setting%%=*} failed"
	done
	# openNDS uses the FQDN when set, else the IP (which must then be an IPv4 address).
	if [ -n "$FASREMOTEFQDN" ]; then
		uci_root set "$section.fasremotefqdn=$FASREMOTEFQDN" || die "uci set opennds fasremotefqdn failed"
		uci_root -q delete "$section.fasremoteip"
	else
		uci_root set "$section.fasremoteip=$FASREMOTEIP" || die "uci set opennds fasremoteip failed"
		uci_root -q delete "$section.fasremotefqdn"
	fi
	# Walled garden: phones that have not logged in yet reach the portal host's own port too
	# (its https pages, its captive-portal API). openNDS already opens fasport to it.
	rule="allow tcp port $WG_PORT to ${FASREMOTEIP:-$WG_HOST}"
	uci_root -q del_list "$section.preauthenticated_users=$rule"
	uci_root add_list "$section.preauthenticated_users=$rule" ||
		die "uci add_list opennds preauthenticated_users failed"
	uci_root commit opennds || die "uci commit opennds failed"
	say "openNDS: FAS level $FAS_LEVEL at ${FASREMOTEFQDN:-$FASREMOTEIP}:$FASPORT$FASPATH, gateway name '$GATEWAYNAME'"
}

# DHCPv4 option 114 on the LAN's dnsmasq, replacing one set before (other options stay).
configure_captive_api() {
	[ -n "$CAPTIVE_API_URL" ] || return 0
	options=$(uci_get dhcp.lan.dhcp_option) || options=''
	for option in $options; do
		case $option in
		114,* | option:114,* | option:captive-portal,*)
			uci_root del_list "dhcp.lan.dhcp_option=$option" ||
				die "uci del_list dhcp.lan.dhcp_option failed"
			;;
		esac
	done
	uci_root add_list "dhcp.lan.dhcp_option=114,$CAPTIVE_API_URL" ||
		die "uci add_list dhcp.lan.dhcp_option failed"
	uci_root commit dhcp || die "uci commit dhcp failed"
	say "DHCP option 114 (captive portal API) set to $CAPTIVE_API_URL"
}

# sysupgrade keeps what /etc/sysupgrade.conf lists: the credentials, the installer and the agent.
keep_across_sysupgrade() {
	conf="$ROOT/etc/sysupgrade.conf"
	mkdir -p "$ROOT/etc" || die "cannot create $ROOT/etc"
	touch "$conf" || die "cannot write $conf"
	for path in /etc/config/portico "$STATE/" /usr/sbin/portico-agent /usr/lib/portico/ \
		/etc/init.d/portico-agent "$DHCP_HOOK"; do
		grep -qxF "$path" "$conf" || echo "$path" >>"$conf" || die "cannot write $conf"
	done
	say "credentials and agent kept across sysupgrade ($conf)"
}

start_services() {
	if [ -n "$ROOT" ]; then
		say "PORTICO_ROOT is set: not enabling or starting the services"
		return
	fi
	if [ "$MODE" != manual ]; then
		/etc/init.d/opennds enable || die "cannot enable openNDS"
		/etc/init.d/opennds restart || die "cannot start openNDS"
	fi
	/etc/init.d/portico-agent enable || die "cannot enable the portico-agent service"
	/etc/init.d/portico-agent restart || die "cannot start the portico-agent service"
	# dnsmasq.init passes --dhcp-script only while /etc/hotplug.d/dhcp/ holds a file, and
	# applies option 114: procd restarts dnsmasq when its generated config changed.
	if [ -x /etc/init.d/dnsmasq ]; then
		/etc/init.d/dnsmasq reload || die "cannot reload dnsmasq"
	else
		say "no dnsmasq service: no DHCP telemetry (and no option 114) from this router"
	fi
	say "portico-agent started: it reports on ap/v1/$DEVICE_ID/status at $HOST:$PORT"
}

# ---- self-check ----

PROBLEMS=''

problem() {
	PROBLEMS="$PROBLEMS$TAB$*"
}

check_portal() {
	[ -n "$PORTAL" ] || return 0
	answer=$(with_timeout wget -q -O - "$PORTAL/i/ping" 2>&1) || {
		problem "cannot reach the portal at $PORTAL: phones would get no login page ($(echo "$answer" | head -n 1))"
		return
	}
	portal_time=${answer#portico }
	portal_time=${portal_time%%[!0-9]*}
	is_uint "$portal_time" && check_clock "$portal_time" "$(date +%s)"
}

# check_clock PORTAL_TIME ROUTER_TIME
check_clock() {
	skew=$(($2 - $1))
	[ "$skew" -lt 0 ] && skew=$((-skew))
	if [ "$skew" -gt "$CLOCK_SKEW_MAX" ]; then
		problem "the router's clock is $skew seconds off the portal's: it would refuse logins as expired. Check its time server (uci show system.ntp; /etc/init.d/sysntpd restart)"
	fi
}

check_opennds() {
	[ "$MODE" != manual ] || return 0
	if ! pidof opennds >/dev/null 2>&1; then
		problem "openNDS is not running: phones are not sent to the login page. Start it with /etc/init.d/opennds restart; its log: logread -e opennds"
	fi
}

# Log in to the broker as the router and subscribe to one of its own topics.
check_broker() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/portico-check.XXXXXX") || return 0
	mkdir -p "$tmp/mqtt"
	{
		echo "-h $HOST"
		echo "-p $PORT"
		echo "-V mqttv311"
		echo "-u $DEVICE_ID"
		echo "-P $PASSWORD"
		if [ "$TLS" = 1 ] && [ -n "$CAFILE" ]; then
			echo "--cafile $ROOT$CAFILE"
		elif [ "$TLS" = 1 ]; then
			echo "--capath $ROOT/etc/ssl/certs"
		fi
	} >"$tmp/mqtt/mosquitto_sub"
	# The broker learns of a newly redeemed code within moments: a refusal gets two more tries.
	ok='' tries=0
	while [ "$tries" -lt 3 ]; do
		if XDG_CONFIG_HOME="$tmp/mqtt" with_timeout mosquitto_sub -i "$DEVICE_ID-check" -E -q 1 \
			-t "ap/v1/$DEVICE_ID/desired" >/dev/null 2>"$tmp/err"; then
			ok=1
			break
		fi
		tries=$((tries + 1))
		grep -q uthoris "$tmp/err" || break
		sleep 1
	done
	if [ -z "$ok" ]; then
		err=$(head -c 200 "$tmp/err")
		case $err in
		*uthoris* | *"bad user name or password"* | *"not authorized"*)
			problem "the broker at $HOST:$PORT refused the router's password: was the router revoked, or installed again elsewhere? ($err)"
			;;
		*[Cc]ertificate* | *TLS* | *SSL* | *handshake*)
			problem "TLS with the broker at $HOST:$PORT failed: check the router's clock and its CA bundle ($err)"
			;;
		*)
			problem "cannot reach the broker at $HOST:$PORT: the router cannot be managed ($err)"
			;;
		esac
	fi
	rm -rf "$tmp"
}

check_agent() {
	[ -z "$ROOT" ] || return 0
	if ! pgrep -f /usr/sbin/portico-agent >/dev/null 2>&1; then
		problem "the portico-agent service is not running: see logread -e portico-agent"
	fi
}

self_check() {
	say "self-check..."
	[ -z "$SERVER_TIME" ] || check_clock "$SERVER_TIME" "$CLAIM_RECEIVED_AT"
	check_portal
	check_opennds
	check_broker
	check_agent
	if [ -z "$PROBLEMS" ]; then
		say "self-check passed: router $DEVICE_ID is installed and logs in to the broker with its own account"
		return 0
	fi
	say "self-check found problems; the router is installed, but:"
	printf '%s\n' "$PROBLEMS" | tr '\t' '\n' | sed '/^$/d; s/^/  - /'
	return 3
}

# ---- main ----

parse_args "$@"
validate_args
detect_package_manager
case $MODE in
again) load_saved_settings ;;
esac
backup_config
ensure_config_file
# The code is redeemed (and what it gives saved) first: a later failure, run again, reuses it.
[ "$MODE" != claim ] || redeem_claim
install_packages
install_files
[ "$MODE" = claim ] || configure_agent
[ "$MODE" = manual ] || configure_opennds
configure_captive_api
keep_across_sysupgrade
start_services
self_check
