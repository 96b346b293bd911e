#!/bin/sh
# tlsrpt-filter.sh - OpenSMTPD report filter: TLS results of outgoing
# sessions to tlsrpt-collectd, through tlsrpt-log.
#
# smtpd.conf (see README beside this file):
#     filter "tlsrpt" proc-exec "/usr/local/libexec/tlsrpt-filter.sh" \
#         user tlsrptd group tlsrptd
#     action "outbound" relay filter "tlsrpt"
#
# It registers for these smtp-out report events (smtpd-filters(7); field
# order as in protocol 0.5 to 0.7, "report|VERSION|TIME|smtp-out|EVENT|
# SESSION|..."):
#     link-connect     rdns|fcrdns|src|dest   (a new connection attempt)
#     protocol-client  command                (we sent STARTTLS?)
#     protocol-server  response               (EHLO lines, STARTTLS answer)
#     link-tls         tls-string             (handshake done: VERSION:CIPHER:BITS)
#     tx-rcpt          msgid|result|address   (0.6+; 0.5: msgid|address|result)
#     link-disconnect                         (end of session: report it)
# and, at link-disconnect, for each recipient domain of the session calls
#     tlsrpt-log --domain D --result success                 (TLS was used)
#     tlsrpt-log ... --result starttls-not-supported         (STARTTLS refused)
#     tlsrpt-log ... --result validation-failure             (STARTTLS accepted,
#                                                             no handshake)
# A session that never tried TLS (no STARTTLS offered, plain relay) is not
# reported, like Postfix does without a policy. OpenSMTPD has neither DANE
# nor MTA-STS, so the policy is always no-policy-found, and it reports no
# TLSRPT record: tlsrpt-send looks it up. The receiving MX name is the
# reverse DNS of the address we connected to (OpenSMTPD does not report the
# MX name).
#
# Environment (for testing): TLSRPT_LOG, the tlsrpt-log program (default
# tlsrpt-log from PATH); TLSRPT_LOG_OPTS, extra options (e.g. --print to
# write the datagrams to standard error instead of sending them).
#
# Values from the network (banner, rdns, addresses) only ever reach
# tlsrpt-log as quoted arguments; session ids are checked to be hex before
# they become part of a variable name. Standard output is the protocol
# channel to smtpd: nothing else may be written there. smtpd does not expect
# a filter to exit, so there is no `set -e` or `set -u`: the loop only ends
# with its input.

TLSRPT_LOG=${TLSRPT_LOG:-tlsrpt-log}
TLSRPT_LOG_OPTS=${TLSRPT_LOG_OPTS:-}

# Per-session state lives in variables S_<session>_<field>.
get() { eval "printf '%s' \"\${S_$1_$2:-}\""; }
set_() { eval "S_$1_$2=\$3"; }
forget() {
	for f in ip src rdns sent await accepted refused why tls failed failip domains; do
		unset "S_$1_$f"
	done
}

log() { printf 'tlsrpt-filter: %s\n' "$*" >&2; }

strip_addr() {
	# "192.0.2.1:25", "[2001:db8::1]:25", "IPv6:2001:db8::1:25" -> address
	a=${1%:*}
	a=${a#[}
	a=${a%]}
	a=${a#IPv6:}
	printf '%s' "$a"
}

send() {
	# send SESSION DOMAIN RESULT
	s_=$1 d=$2 r=$3
	ip=$(get "$s_" ip)
	[ "$r" = validation-failure ] && ip=$(get "$s_" failip)
	rdns=$(get "$s_" rdns)
	src=$(get "$s_" src)
	set --
	if [ "$r" != success ]; then
		[ -n "$src" ] && set -- "$@" --sending-ip "$src"
		[ -n "$ip" ] && set -- "$@" --receiving-ip "$ip"
		case $rdns in
		'' | '<unknown>' | *[!A-Za-z0-9.-]*) ;;
		*) set -- "$@" --mx-hostname "$rdns" ;;
		esac
		if [ "$r" = validation-failure ]; then
			set -- "$@" --reason tls-handshake-failure
		else
			why=$(get "$s_" why)
			[ -n "$why" ] && set -- "$@" --reason "$why"
		fi
	fi
	# shellcheck disable=SC2086 # TLSRPT_LOG_OPTS: word splitting wanted
	"$TLSRPT_LOG" $TLSRPT_LOG_OPTS --domain "$d" --result "$r" "$@" >&2
	rc=$?
	[ $rc -eq 0 ] || log "tlsrpt-log exited $rc for $d ($r)"
}

finish() {
	s=$1
	if [ -n "$(get "$s" accepted)" ] && [ -z "$(get "$s" tls)" ]; then
		set_ "$s" failed 1
		set_ "$s" failip "$(get "$s" ip)"
	fi
	if [ -n "$(get "$s" failed)" ]; then
		result=validation-failure
	elif [ -n "$(get "$s" refused)" ]; then
		result=starttls-not-supported
	elif [ -n "$(get "$s" tls)" ]; then
		result=success
	else
		forget "$s"
		return
	fi
	domains=$(get "$s" domains)
	if [ -z "$domains" ]; then
		log "session $s: $result, but no recipient seen; not reported"
	fi
	for d in $domains; do
		send "$s" "$d" "$result"
	done
	forget "$s"
}

registered=0
while IFS= read -r line; do
	case $line in
	config\|ready)
		for e in link-connect link-disconnect link-tls tx-rcpt \
		    protocol-client protocol-server; do
			printf 'register|report|smtp-out|%s\n' "$e"
		done
		printf 'register|ready\n'
		registered=1
		continue
		;;
	config\|*) continue ;;
	report\|*\|smtp-out\|*) ;;
	*) continue ;;
	esac
	# report|VERSION|TIME|smtp-out|EVENT|SESSION[|PARAMS]
	rest=${line#report|*|*|smtp-out|}
	event=${rest%%|*}
	rest=${rest#"$event"}
	rest=${rest#|}
	s=${rest%%|*}
	case $rest in
	*\|*) params=${rest#*|} ;;
	*) params= ;;
	esac
	case $s in
	'' | *[!0-9a-f]*) log "bad session id in: $line"; continue ;;
	esac
	case $event in
	link-connect)
		# rdns|fcrdns|src|dest; a second connect on one session is a
		# retry (plain after a failed handshake).
		if [ -n "$(get "$s" accepted)" ] && [ -z "$(get "$s" tls)" ]; then
			set_ "$s" failed 1
			set_ "$s" failip "$(get "$s" ip)"
		fi
		set_ "$s" accepted ""
		set_ "$s" tls ""
		set_ "$s" rdns "${params%%|*}"
		p=${params#*|}
		p=${p#*|}
		set_ "$s" src "$(strip_addr "${p%%|*}")"
		set_ "$s" ip "$(strip_addr "${p#*|}")"
		;;
	protocol-client)
		case $params in
		[Ss][Tt][Aa][Rr][Tt][Tt][Ll][Ss]*) set_ "$s" sent 1; set_ "$s" await 1 ;;
		esac
		;;
	protocol-server)
		if [ -n "$(get "$s" await)" ]; then
			set_ "$s" await ""
			case $params in
			2*) set_ "$s" accepted 1 ;;
			*) set_ "$s" refused 1; set_ "$s" why "$params" ;;
			esac
		fi
		;;
	link-tls)
		set_ "$s" tls "${params:-yes}"
		;;
	tx-rcpt)
		# msgid|result|address (0.6+) or msgid|address|result (0.5)
		p=${params#*|}
		a=${p%%|*}
		b=${p#*|}
		case $a in ok | permfail | tempfail) addr=$b ;; *) addr=$a ;; esac
		d=${addr##*@}
		case $d in
		'' | "$addr" | *[!A-Za-z0-9.-]*) continue ;;
		esac
		d=$(printf '%s' "$d" | tr '[:upper:]' '[:lower:]')
		case " $(get "$s" domains) " in
		*" $d "*) ;;
		*) set_ "$s" domains "$(get "$s" domains) $d" ;;
		esac
		;;
	link-disconnect)
		finish "$s"
		;;
	esac
done
[ "$registered" = 1 ] || log "input ended before config|ready"
exit 0
