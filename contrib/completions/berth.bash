# bash completion for berth.
#
# Install: copy to /usr/share/bash-completion/completions/berth (or source it
# from ~/.bashrc). Commands and flags come from berth itself
# (--generate-bash-completion), so they always match the installed binary;
# container ids come from `berth list -q` under the --root given on the line,
# image names from `berth images -q`.

_berth() {
	local cur=${COMP_WORDS[COMP_CWORD]}
	local -a line=("${COMP_WORDS[@]:0:COMP_CWORD}")
	local root="" cmd="" i
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--root) root=${COMP_WORDS[i + 1]} ;;
		--root=*) root=${COMP_WORDS[i]#--root=} ;;
		-*) ;;
		*) [ -z "$cmd" ] && [ "${COMP_WORDS[i - 1]}" != --root ] && [ "${COMP_WORDS[i - 1]}" != --log ] &&
			[ "${COMP_WORDS[i - 1]}" != --log-format ] && [ "${COMP_WORDS[i - 1]}" != --rootless ] && cmd=${COMP_WORDS[i]} ;;
		esac
	done

	local words
	if [[ $cur == -* ]]; then
		words=$("${line[@]}" "$cur" --generate-bash-completion 2>/dev/null)
	else
		words=$("${line[@]}" --generate-bash-completion 2>/dev/null)
	fi
	case $cmd in
	checkpoint | delete | events | exec | kill | pause | ps | resume | start | state | update)
		if [[ $cur != -* ]]; then
			words="$words $("${COMP_WORDS[0]}" ${root:+--root "$root"} list -q 2>/dev/null)"
		fi
		;;
	rmi | bundle)
		if [[ $cur != -* ]]; then
			words="$words $("${COMP_WORDS[0]}" images -q 2>/dev/null)"
		fi
		;;
	esac
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _berth berth
