# bash completion for daemonproxy. Generated from the option tables of daemonproxy-cli
# by daemonproxy-cli/src/generated.rs; do not edit. Regenerate:
# DAEMONPROXY_UPDATE_GENERATED=1 cargo test -p daemonproxy-cli generated

_daemonproxy() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} i
    COMPREPLY=()
    if [[ $COMP_CWORD -gt 1 && ${COMP_WORDS[1]} == ctl ]]; then
        case $prev in
        -S|--socket) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        -t|--timeout) return ;;
        esac
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "-S --socket -t --timeout -h --help" -- "$cur"))
            return
        fi
        # The first word that is not an option or its value is the command.
        for ((i = 2; i < COMP_CWORD; i++)); do
            case ${COMP_WORDS[i]} in
            -S|--socket|-t|--timeout) ((i++)) ;;
            -*) ;;
            *) return ;;
            esac
        done
        COMPREPLY=($(compgen -W "status start stop restart follow shutdown echo statedump exit service.args service.tags service.fds service.auto_up service.start service.signal service.delete fd.open fd.pipe fd.socket fd.take fd.delete socket.create socket.delete chdir log.filter log.dest conn.event_timeout signal.clear terminate terminate.guard terminate.exec_args service.env service.cwd service.user service.rlimit service.umask service.notify service.listen_fds conn.extended reexec" -- "$cur"))
        return
    fi
    case $prev in
    -c|--config|-S|--socket|--notify-socket) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --exit-guard|-E|--exit-exec|--fd-pool|--service-pool|--max-connections|--reexec-signal) return ;;
    esac
    if [[ $COMP_CWORD -eq 1 && $cur != -* ]]; then
        COMPREPLY=($(compgen -W "ctl" -- "$cur"))
        return
    fi
    COMPREPLY=($(compgen -W "-c --config --check -i --interactive -S --socket -D --daemonize --exit-guard -E --exit-exec --fd-pool --service-pool --max-connections -M --mlockall --subreaper --notify-socket --reexec-signal --log-timestamps -v --verbose -q --quiet -h --help --version" -- "$cur"))
}
complete -o filenames -F _daemonproxy daemonproxy
