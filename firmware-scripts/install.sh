#!/bin/sh
# install.sh: install the Portico router agent on OpenWrt with one command, run as root from
# the directory that holds this script and files/:
#
#   sh install.sh --device-id ap-1 --password SECRET --broker mqtt.example.com:8883
#
# Options (--name VALUE or --name=VALUE):
#   --device-id ID        required, [A-Za-z0-9_-]{1,64}, the router's MQTT username
#   --password PASSWORD   required; or set PORTICO_PASSWORD instead, which keeps it out of ps
#   --broker HOST[:PORT]  required; the port defaults to 8883, or 1883 with --no-tls
#   --no-tls              plain MQTT, for a broker on a trusted network only
#   --cafile PATH         CA certificate of the broker (default: the system's CA bundle)
#   --heartbeat SECONDS   how often the agent republishes its status (default 60)
#   --captive-api-url URL the RFC 8908 Captive Portal API URI that the router's DHCP server
#                         hands to phones (DHCPv4 option 114, RFC 8910), https:// only, e.g.
#                         https://wifi.example.com/captive-api/ap-1 (docs/captive-api.md)
#
# It installs the packages the agent needs (opkg, skipping those already installed), copies
# files/ into place, writes the settings with uci and enables and (re)starts the service.
# PORTICO_ROOT=DIR installs into DIR instead of / (an image tree, or a test): packages go there
# through opkg -o, settings through uci -c, and no service is enabled or started.

ROOT=${PORTICO_ROOT:-}
SRC=$(dirname "$0")/files
PACKAGES="mosquitto-client-ssl opennds"

say() {
	printf 'portico install: %s\n' "$*"
}

die() {
	printf 'portico install: error: %s\n' "$*" >&2
	exit 1
}

usage_error() {
	printf 'portico install: error: %s\n' "$*" >&2
	echo "usage: sh install.sh --device-id ID --password PASSWORD --broker HOST[:PORT]" \
		"[--no-tls] [--cafile PATH] [--heartbeat SECONDS] [--captive-api-url URL]" >&2
	exit 2
}

is_uint() {
	case $1 in '' | *[!0-9]*) return 1 ;; esac
}

parse_args() {
	DEVICE_ID='' PASSWORD=${PORTICO_PASSWORD:-} BROKER='' TLS=1 CAFILE='' HEARTBEAT=60
	CAPTIVE_API_URL=
	while [ $# -gt 0 ]; do
		case $1 in
		--no-tls)
			TLS=0
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
		case $name in
		--device-id) DEVICE_ID=$value ;;
		--password) PASSWORD=$value ;;
		--broker) BROKER=$value ;;
		--cafile) CAFILE=$value ;;
		--heartbeat) HEARTBEAT=$value ;;
		--captive-api-url) CAPTIVE_API_URL=$value ;;
		*) usage_error "unknown option: $name" ;;
		esac
	done
}

validate_args() {
	[ -n "$DEVICE_ID" ] || usage_error "--device-id is required"
	case $DEVICE_ID in *[!A-Za-z0-9_-]*) usage_error "--device-id must match [A-Za-z0-9_-]{1,64}" ;; esac
	[ "${#DEVICE_ID}" -le 64 ] || usage_error "--device-id must match [A-Za-z0-9_-]{1,64}"

	[ -n "$PASSWORD" ] || usage_error "--password (or PORTICO_PASSWORD) is required"
	# Printable ASCII without spaces: it goes through uci and a line-based config file.
	case $PASSWORD in *[!!-~]*) usage_error "--password must be printable ASCII without spaces" ;; esac

	[ -n "$BROKER" ] || usage_error "--broker is required"
	HOST=${BROKER%:*}
	if [ "$HOST" = "$BROKER" ]; then
		if [ "$TLS" = 1 ]; then PORT=8883; else PORT=1883; fi
	else
		PORT=${BROKER##*:}
	fi
	case $HOST in '' | *[!A-Za-z0-9.-]*) usage_error "--broker host must be a host name or IPv4 address" ;; esac
	if ! { is_uint "$PORT" && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ]; }; then
		usage_error "--broker port must be 1..65535"
	fi

	if ! { is_uint "$HEARTBEAT" && [ "$HEARTBEAT" -ge 1 ] && [ "$HEARTBEAT" -le 86400 ]; }; then
		usage_error "--heartbeat must be 1..86400 seconds"
	fi
	if [ -n "$CAFILE" ] && [ ! -r "$ROOT$CAFILE" ]; then
		usage_error "--cafile $CAFILE is not a readable file"
	fi
	[ "$TLS" = 1 ] || say "warning: --no-tls sends the password in clear text"
	validate_captive_api_url
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

opkg_root() {
	if [ -n "$ROOT" ]; then opkg -o "$ROOT" "$@"; else opkg "$@"; fi
}

uci_root() {
	if [ -n "$ROOT" ]; then uci -c "$ROOT/etc/config" "$@"; else uci "$@"; fi
}

install_packages() {
	wanted=$PACKAGES
	# Without --cafile the agent verifies the broker against the system's CA bundle.
	if [ "$TLS" = 1 ] && [ -z "$CAFILE" ]; then wanted="$wanted ca-bundle"; fi
	installed=$(opkg_root list-installed) || die "opkg list-installed failed"
	missing=''
	for package in $wanted; do
		if ! printf '%s\n' "$installed" | awk -v p="$package" '$1 == p { found = 1 } END { exit !found }'; then
			missing="$missing $package"
		fi
	done
	if [ -z "$missing" ]; then
		say "packages already installed: $wanted"
		return
	fi
	say "installing$missing"
	opkg_root update || die "opkg update failed: can the router reach its package feeds?"
	# Word splitting of $missing is wanted: one argument per package.
	# shellcheck disable=SC2086
	opkg_root install $missing || die "opkg install$missing failed"
}

# copy_file SOURCE DEST MODE
copy_file() {
	mkdir -p "$(dirname "$2")" || die "cannot create $(dirname "$2")"
	cp "$1" "$2" || die "cannot copy $1 to $2"
	chmod "$3" "$2" || die "cannot chmod $2"
}

install_files() {
	[ -f "$SRC/usr/sbin/portico-agent" ] ||
		die "$SRC/usr/sbin/portico-agent not found: run install.sh from its own directory"
	copy_file "$SRC/usr/sbin/portico-agent" "$ROOT/usr/sbin/portico-agent" 755
	copy_file "$SRC/usr/lib/portico/json.awk" "$ROOT/usr/lib/portico/json.awk" 644
	copy_file "$SRC/etc/init.d/portico-agent" "$ROOT/etc/init.d/portico-agent" 755
	# Keep an existing config (and any option set by hand); uci below updates our options.
	if [ ! -f "$ROOT/etc/config/portico" ]; then
		copy_file "$SRC/etc/config/portico" "$ROOT/etc/config/portico" 600
	fi
	say "files installed under ${ROOT:-/}"
}

configure() {
	uci_root set portico.agent=agent || die "uci set portico.agent failed"
	for setting in "device_id=$DEVICE_ID" "password=$PASSWORD" "broker_host=$HOST" \
		"broker_port=$PORT" "tls=$TLS" "cafile=$CAFILE" "heartbeat=$HEARTBEAT" "enabled=1"; do
		uci_root set "portico.agent.$setting" || die "uci set portico.agent.${setting%%=*} failed"
	done
	uci_root commit portico || die "uci commit portico failed"
	say "settings written to $ROOT/etc/config/portico"
}

# DHCPv4 option 114 on the LAN's dnsmasq, replacing one set before (other options stay).
configure_captive_api() {
	[ -n "$CAPTIVE_API_URL" ] || return 0
	options=$(uci_root -q get dhcp.lan.dhcp_option) || options=''
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
	if [ -z "$ROOT" ]; then
		/etc/init.d/dnsmasq reload || die "cannot reload dnsmasq"
	fi
}

start_service() {
	if [ -n "$ROOT" ]; then
		say "PORTICO_ROOT is set: not enabling or starting the service"
		return
	fi
	/etc/init.d/portico-agent enable || die "cannot enable the portico-agent service"
	/etc/init.d/portico-agent restart || die "cannot start the portico-agent service"
	say "portico-agent started: it reports on ap/v1/$DEVICE_ID/status at $HOST:$PORT"
}

parse_args "$@"
validate_args
install_packages
install_files
configure
configure_captive_api
start_service
