#!/bin/sh
# A vendor's power tool, as tests use it: vendor-pwr.sh STATE on|off|status.
# The outlet's state is kept in the file STATE ("on" or "off"; missing is
# off), each switch is appended to STATE.log, and like vendors' tools it
# refuses (exit 1) to do what is already done.
state=$1
cur=$(cat "$state" 2>/dev/null || echo off)
case $2 in
status)
	echo "$cur"
	;;
on | off)
	if [ "$cur" = "$2" ]; then
		echo "already $2" >&2
		exit 1
	fi
	echo "$2" >"$state"
	echo "$2" >>"$state.log"
	echo "outlet switched $2"
	;;
*)
	echo "usage: vendor-pwr.sh STATE on|off|status" >&2
	exit 2
	;;
esac
