# zsh -f zsh_complete.zsh COMPLETIONS-DIR WORK-DIR CWD LINE: in a real
# interactive zsh (on a pty: zsh/zpty) with the completions of
# COMPLETIONS-DIR on fpath and compinit run, type LINE, press Tab, and
# print the command line as it then stands, in brackets.
zmodload zsh/zpty || exit 1
zpty -b z "zsh -f -i"
zpty -w z "fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -d $2/zcompdump; cd ${(q)3}"
zpty -w z "dump() { print -r -- \"[\$BUFFER]\" >$2/line; BUFFER= }; zle -N dump; bindkey '^X' dump"
rm -f $2/line
zpty -w -n z "$4"$'\t'
# the line is dumped by a key typed after the Tab: the completion is done
zpty -w -n z $'\C-x'
for i in {1..100}; do [[ -s $2/line ]] && break; sleep 0.1; done
zpty -d z
cat $2/line
