# SPDX-License-Identifier: Apache-2.0
# bash completion for circusctl.
#
# Install as /usr/share/bash-completion/completions/circusctl, or source it
# from ~/.bashrc. circusctl computes the candidates itself (the same
# grammar table drives its interactive shell): command names, options,
# option values, signal names, watcher option keys, and watcher names and
# pids asked live from circusd (honouring --endpoint/CIRCUSCTL_ENDPOINT,
# and giving up after a second and a half when the daemon does not answer).
# The protocol is Circus's: AUTO_COMPLETE set, COMP_WORDS and COMP_CWORD
# passed in the environment, candidates printed space-separated on stdout.

_circusctl()
{
	local cur cword candidates i
	local -a words
	if declare -F _get_comp_words_by_ref >/dev/null; then
		# keep "plugin:flapping" and "--match=glob" as single words
		_get_comp_words_by_ref -n =: cur words cword
	else
		# bash splits words at ':' and '=' too (COMP_WORDBREAKS): an
		# endpoint such as tcp://127.0.0.1:5555 would be five words.
		# Split the line up to the cursor at blanks only.
		read -r -a words <<< "${COMP_LINE:0:$COMP_POINT}"
		if [[ -z ${COMP_LINE} ]]; then
			words=("${COMP_WORDS[@]}")
			cword=$COMP_CWORD
		elif [[ ${COMP_LINE:0:$COMP_POINT} == *[[:space:]] ]]; then
			cword=${#words[@]}
			words+=("")
		else
			cword=$(( ${#words[@]} - 1 ))
		fi
		cur="${words[cword]}"
	fi
	candidates=$(COMP_WORDS="${words[*]}" COMP_CWORD=$cword \
	    AUTO_COMPLETE=1 "${words[0]}" 2>/dev/null)
	COMPREPLY=( $(compgen -W "$candidates" -- "$cur") )
	if declare -F __ltrim_colon_completions >/dev/null; then
		__ltrim_colon_completions "$cur"
	elif [[ $cur == *[:=]* && -n ${COMP_LINE} ]]; then
		# bash replaces only what follows the last ':' or '='
		for i in "${!COMPREPLY[@]}"; do
			COMPREPLY[i]=${COMPREPLY[i]#"${cur%"${cur##*[:=]}"}"}
		done
	fi
	# A topic prefix such as "watcher.web." goes on: no space after it.
	if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *. ]]; then
		compopt -o nospace 2>/dev/null
	fi
	return 0
}

complete -F _circusctl circusctl
