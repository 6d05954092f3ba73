# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_qmgr_global_optspecs
    string join \n state= address= h/help V/version
end

function __fish_qmgr_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_qmgr_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_qmgr_using_subcommand
    set -l cmd (__fish_qmgr_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c qmgr -n "__fish_qmgr_needs_command" -l state -d 'Work on the jobs of this state directory, in this process, instead of the daemon\'s (default: $QMGR_STATE; `transfer` without one keeps its job in memory). Only `create` and `transfer` make it if it does not exist' -r -F
complete -c qmgr -n "__fish_qmgr_needs_command" -l address -d 'The qmgr daemon to talk to, a Varlink address (unix:/path/to/socket) (default: $QMGR_ADDRESS, else the per-user daemon\'s socket $XDG_RUNTIME_DIR/qmgr/io.qmgr if it exists, else the system daemon\'s /run/qmgr/io.qmgr)' -r
complete -c qmgr -n "__fish_qmgr_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c qmgr -n "__fish_qmgr_needs_command" -s V -l version -d 'Print version'
complete -c qmgr -n "__fish_qmgr_needs_command" -f -a "transfer" -d 'Transfer files now: create a job, show its progress, complete it. It runs in this process, daemon or not (with --state its job is kept there if interrupted, for `run`)'
complete -c qmgr -n "__fish_qmgr_needs_command" -f -a "upload" -d 'Upload a file now (a resumable upload: tus 1.0, or the IETF draft with --protocol rufh): create an upload job, show its progress, complete it. It runs in this process (with --state its job is kept there if interrupted, for `run`)'
complete -c qmgr -n "__fish_qmgr_needs_command" -f -a "create" -d 'Create a suspended job and print its id'
complete -c qmgr -n "__fish_qmgr_needs_command" -f -a "add" -d 'Add a file to a job'
complete -c qmgr -n "__fish_qmgr_needs_command" -f -a "set" -d 'Change a job\'s options (those not given stay as they are)'
complete -c qmgr -n "__fish_qmgr_needs_command" -f -a "resume" -d 'Queue a job for transfer (SUSPENDED or ERROR → QUEUED)'
complete -c qmgr -n "__fish_qmgr_needs_command" -f -a "suspend" -d 'Stop a job; its partial data is kept'
complete -c qmgr -n "__fish_qmgr_needs_command" -f -a "cancel" -d 'Cancel a job and delete its temporary files'
complete -c qmgr -n "__fish_qmgr_needs_command" -f -a "complete" -d 'Move a job\'s transferred files into place and end the job. A job that is not TRANSFERRED is completed partially, as BITS does: the files not transferred are deleted with their partial data; on a terminal qmgr lists them and asks first, elsewhere it needs --partial'
complete -c qmgr -n "__fish_qmgr_needs_command" -f -a "replace-prefix" -d 'Replace the start of the job\'s remote names (switch mirrors), keeping the bytes already transferred'
complete -c qmgr -n "__fish_qmgr_needs_command" -f -a "list" -d 'List the jobs that are not completed or cancelled'
complete -c qmgr -n "__fish_qmgr_needs_command" -f -a "info" -d 'Show one job and its files'
complete -c qmgr -n "__fish_qmgr_needs_command" -f -a "monitor" -d 'Show a live table of the jobs until none is active'
complete -c qmgr -n "__fish_qmgr_needs_command" -f -a "run" -d 'Transfer the jobs of the state directory (--state) until none is active, completing each job once transferred (the daemon\'s jobs run by themselves)'
complete -c qmgr -n "__fish_qmgr_needs_command" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c qmgr -n "__fish_qmgr_needs_command" -f -a "manpage" -d 'Write the manual pages (qmgr.1, qmgr-VERB.1) into DIR, as `make install` installs them'
complete -c qmgr -n "__fish_qmgr_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -l priority -d 'The job\'s priority' -r -f -a "foreground\t''
high\t''
normal\t''
low\t''"
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -l sha256 -d 'The SHA-256 the file must have (64 hex digits); with several files, give it once per file, in file order' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -l seed -d 'A local file that may hold blocks of the new one (the copy the device has): only the blocks it lacks are fetched, as zsync does; repeat for more seeds (one file to transfer). Read, never written' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -l zsync -d 'The zsync control file\'s URL (default: URL with `.zsync` appended); needs --seed' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -l max-bandwidth -d 'Bandwidth limit in bytes per second: 1048576, 500K, 20M, 1G (0: none)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -l min-retry-delay -d 'Seconds to wait before retrying after a transient error (library default 600; `transfer`: 5)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -l no-progress-timeout -d 'Seconds of transient errors without progress before the job fails (library default 1209600, 14 days; `transfer`: 60; 0: the first error is final)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -l connections -d 'How many connections the job uses at once: that many of its files, or segments of a large one (library default 6; with `transfer` also the cap per server)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -l max-download-time -d 'Seconds the job may spend connecting and transferring before it fails with QM_BG_E_MAXDOWNLOAD_TIMEOUT (library default 7776000, 90 days; 0: no limit)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -l ca-file -d 'Trust the CA certificates of this PEM file instead of the system\'s' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -l cert -d 'Present this client certificate (PEM) for mutual TLS; needs --key' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -l key -d 'The private key (PEM) of --cert' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -s H -l header -d 'An extra request header, `Name: value`; repeat for more' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -l proxy -d 'The proxy URL (http://, https://, socks5://...); \'\' connects directly (default: http_proxy, https_proxy, no_proxy)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -l user -d 'HTTP Basic credentials; the password comes from $QMGR_PASSWORD, or a prompt on the terminal (USER:PASSWORD works, but shows it to every user of `ps`)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -l state -d 'Work on the jobs of this state directory, in this process, instead of the daemon\'s (default: $QMGR_STATE; `transfer` without one keeps its job in memory). Only `create` and `transfer` make it if it does not exist' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -l address -d 'The qmgr daemon to talk to, a Varlink address (unix:/path/to/socket) (default: $QMGR_ADDRESS, else the per-user daemon\'s socket $XDG_RUNTIME_DIR/qmgr/io.qmgr if it exists, else the system daemon\'s /run/qmgr/io.qmgr)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -l dynamic -d 'The server\'s content may change between requests: fetch each file in one request, never resume it, start again after any cut'
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -l no-yield -d 'Do not yield: a background job then competes with other traffic like any download, instead of slowing when the network\'s queuing delay rises (FOREGROUND jobs never yield)'
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -s q -l quiet -d 'Print no progress, only errors'
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -l json -d 'Print the finished job as JSON on stdout'
complete -c qmgr -n "__fish_qmgr_using_subcommand transfer" -s h -l help -d 'Print help'
complete -c qmgr -n "__fish_qmgr_using_subcommand upload" -l protocol -d 'The protocol: tus (tus 1.0, the default) or rufh (the IETF draft draft-ietf-httpbis-resumable-upload-12, experimental)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand upload" -l reply -d 'Write the server\'s reply (the draft\'s final response) to this file: an upload-reply job, over rufh' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand upload" -l priority -d 'The job\'s priority' -r -f -a "foreground\t''
high\t''
normal\t''
low\t''"
complete -c qmgr -n "__fish_qmgr_using_subcommand upload" -l min-retry-delay -d 'Seconds to wait before retrying after a transient error (library default 600; `transfer`: 5)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand upload" -l no-progress-timeout -d 'Seconds of transient errors without progress before the job fails (library default 1209600, 14 days; `transfer`: 60; 0: the first error is final)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand upload" -l connections -d 'How many connections the job uses at once: that many of its files, or segments of a large one (library default 6; with `transfer` also the cap per server)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand upload" -l max-download-time -d 'Seconds the job may spend connecting and transferring before it fails with QM_BG_E_MAXDOWNLOAD_TIMEOUT (library default 7776000, 90 days; 0: no limit)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand upload" -l ca-file -d 'Trust the CA certificates of this PEM file instead of the system\'s' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand upload" -l cert -d 'Present this client certificate (PEM) for mutual TLS; needs --key' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand upload" -l key -d 'The private key (PEM) of --cert' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand upload" -s H -l header -d 'An extra request header, `Name: value`; repeat for more' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand upload" -l proxy -d 'The proxy URL (http://, https://, socks5://...); \'\' connects directly (default: http_proxy, https_proxy, no_proxy)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand upload" -l user -d 'HTTP Basic credentials; the password comes from $QMGR_PASSWORD, or a prompt on the terminal (USER:PASSWORD works, but shows it to every user of `ps`)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand upload" -l state -d 'Work on the jobs of this state directory, in this process, instead of the daemon\'s (default: $QMGR_STATE; `transfer` without one keeps its job in memory). Only `create` and `transfer` make it if it does not exist' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand upload" -l address -d 'The qmgr daemon to talk to, a Varlink address (unix:/path/to/socket) (default: $QMGR_ADDRESS, else the per-user daemon\'s socket $XDG_RUNTIME_DIR/qmgr/io.qmgr if it exists, else the system daemon\'s /run/qmgr/io.qmgr)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand upload" -l dynamic -d 'The server\'s content may change between requests: fetch each file in one request, never resume it, start again after any cut'
complete -c qmgr -n "__fish_qmgr_using_subcommand upload" -l no-yield -d 'Do not yield: a background job then competes with other traffic like any download, instead of slowing when the network\'s queuing delay rises (FOREGROUND jobs never yield)'
complete -c qmgr -n "__fish_qmgr_using_subcommand upload" -s q -l quiet -d 'Print no progress, only errors'
complete -c qmgr -n "__fish_qmgr_using_subcommand upload" -l json -d 'Print the finished job as JSON on stdout'
complete -c qmgr -n "__fish_qmgr_using_subcommand upload" -s h -l help -d 'Print help'
complete -c qmgr -n "__fish_qmgr_using_subcommand create" -l priority -d 'The job\'s priority' -r -f -a "foreground\t''
high\t''
normal\t''
low\t''"
complete -c qmgr -n "__fish_qmgr_using_subcommand create" -l min-retry-delay -d 'Seconds to wait before retrying after a transient error (library default 600; `transfer`: 5)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand create" -l no-progress-timeout -d 'Seconds of transient errors without progress before the job fails (library default 1209600, 14 days; `transfer`: 60; 0: the first error is final)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand create" -l connections -d 'How many connections the job uses at once: that many of its files, or segments of a large one (library default 6; with `transfer` also the cap per server)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand create" -l max-download-time -d 'Seconds the job may spend connecting and transferring before it fails with QM_BG_E_MAXDOWNLOAD_TIMEOUT (library default 7776000, 90 days; 0: no limit)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand create" -l ca-file -d 'Trust the CA certificates of this PEM file instead of the system\'s' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand create" -l cert -d 'Present this client certificate (PEM) for mutual TLS; needs --key' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand create" -l key -d 'The private key (PEM) of --cert' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand create" -s H -l header -d 'An extra request header, `Name: value`; repeat for more' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand create" -l proxy -d 'The proxy URL (http://, https://, socks5://...); \'\' connects directly (default: http_proxy, https_proxy, no_proxy)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand create" -l user -d 'HTTP Basic credentials; the password comes from $QMGR_PASSWORD, or a prompt on the terminal (USER:PASSWORD works, but shows it to every user of `ps`)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand create" -l state -d 'Work on the jobs of this state directory, in this process, instead of the daemon\'s (default: $QMGR_STATE; `transfer` without one keeps its job in memory). Only `create` and `transfer` make it if it does not exist' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand create" -l address -d 'The qmgr daemon to talk to, a Varlink address (unix:/path/to/socket) (default: $QMGR_ADDRESS, else the per-user daemon\'s socket $XDG_RUNTIME_DIR/qmgr/io.qmgr if it exists, else the system daemon\'s /run/qmgr/io.qmgr)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand create" -l upload -d 'Create an upload job (one file, `add JOB URL FILE` sends FILE to URL)'
complete -c qmgr -n "__fish_qmgr_using_subcommand create" -l upload-reply -d 'Create an upload-reply job (the IETF draft; the server\'s reply comes back)'
complete -c qmgr -n "__fish_qmgr_using_subcommand create" -l dynamic -d 'The server\'s content may change between requests: fetch each file in one request, never resume it, start again after any cut'
complete -c qmgr -n "__fish_qmgr_using_subcommand create" -l no-yield -d 'Do not yield: a background job then competes with other traffic like any download, instead of slowing when the network\'s queuing delay rises (FOREGROUND jobs never yield)'
complete -c qmgr -n "__fish_qmgr_using_subcommand create" -s h -l help -d 'Print help'
complete -c qmgr -n "__fish_qmgr_using_subcommand add" -l sha256 -d 'The SHA-256 the file must have (64 hex digits)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand add" -l range -d 'Fetch only this range of the remote file (LENGTH a number or `eof`); repeat for more: the ranges are written one after another to PATH, in the order given (BITS\'s AddFileWithRanges)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand add" -l seed -d 'A local file that may hold blocks of the new one (the copy the device has): only the blocks it lacks are fetched, as zsync does; repeat for more seeds. Read, never written' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand add" -l zsync -d 'The zsync control file\'s URL (default: URL with `.zsync` appended); needs --seed' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand add" -l min-retry-delay -d 'Seconds to wait before retrying after a transient error (library default 600; `transfer`: 5)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand add" -l no-progress-timeout -d 'Seconds of transient errors without progress before the job fails (library default 1209600, 14 days; `transfer`: 60; 0: the first error is final)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand add" -l connections -d 'How many connections the job uses at once: that many of its files, or segments of a large one (library default 6; with `transfer` also the cap per server)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand add" -l max-download-time -d 'Seconds the job may spend connecting and transferring before it fails with QM_BG_E_MAXDOWNLOAD_TIMEOUT (library default 7776000, 90 days; 0: no limit)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand add" -l ca-file -d 'Trust the CA certificates of this PEM file instead of the system\'s' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand add" -l cert -d 'Present this client certificate (PEM) for mutual TLS; needs --key' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand add" -l key -d 'The private key (PEM) of --cert' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand add" -s H -l header -d 'An extra request header, `Name: value`; repeat for more' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand add" -l proxy -d 'The proxy URL (http://, https://, socks5://...); \'\' connects directly (default: http_proxy, https_proxy, no_proxy)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand add" -l user -d 'HTTP Basic credentials; the password comes from $QMGR_PASSWORD, or a prompt on the terminal (USER:PASSWORD works, but shows it to every user of `ps`)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand add" -l state -d 'Work on the jobs of this state directory, in this process, instead of the daemon\'s (default: $QMGR_STATE; `transfer` without one keeps its job in memory). Only `create` and `transfer` make it if it does not exist' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand add" -l address -d 'The qmgr daemon to talk to, a Varlink address (unix:/path/to/socket) (default: $QMGR_ADDRESS, else the per-user daemon\'s socket $XDG_RUNTIME_DIR/qmgr/io.qmgr if it exists, else the system daemon\'s /run/qmgr/io.qmgr)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand add" -l dynamic -d 'The server\'s content may change between requests: fetch each file in one request, never resume it, start again after any cut'
complete -c qmgr -n "__fish_qmgr_using_subcommand add" -l no-yield -d 'Do not yield: a background job then competes with other traffic like any download, instead of slowing when the network\'s queuing delay rises (FOREGROUND jobs never yield)'
complete -c qmgr -n "__fish_qmgr_using_subcommand add" -s h -l help -d 'Print help'
complete -c qmgr -n "__fish_qmgr_using_subcommand set" -l priority -d 'The job\'s priority' -r -f -a "foreground\t''
high\t''
normal\t''
low\t''"
complete -c qmgr -n "__fish_qmgr_using_subcommand set" -l notify-cmd -d 'A program (absolute path) to run when the job is transferred or fails, by the process that runs the job (the daemon, or `qmgr run` with --state), with QMGR_JOB_ID and QMGR_JOB_STATE in its environment; \'\' removes it (BITS\'s SetNotifyCmdLine)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand set" -l notify-params -d 'The command line of --notify-cmd: its name first, then the arguments ("..." groups words; no shell)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand set" -l min-retry-delay -d 'Seconds to wait before retrying after a transient error (library default 600; `transfer`: 5)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand set" -l no-progress-timeout -d 'Seconds of transient errors without progress before the job fails (library default 1209600, 14 days; `transfer`: 60; 0: the first error is final)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand set" -l connections -d 'How many connections the job uses at once: that many of its files, or segments of a large one (library default 6; with `transfer` also the cap per server)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand set" -l max-download-time -d 'Seconds the job may spend connecting and transferring before it fails with QM_BG_E_MAXDOWNLOAD_TIMEOUT (library default 7776000, 90 days; 0: no limit)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand set" -l ca-file -d 'Trust the CA certificates of this PEM file instead of the system\'s' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand set" -l cert -d 'Present this client certificate (PEM) for mutual TLS; needs --key' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand set" -l key -d 'The private key (PEM) of --cert' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand set" -s H -l header -d 'An extra request header, `Name: value`; repeat for more' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand set" -l proxy -d 'The proxy URL (http://, https://, socks5://...); \'\' connects directly (default: http_proxy, https_proxy, no_proxy)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand set" -l user -d 'HTTP Basic credentials; the password comes from $QMGR_PASSWORD, or a prompt on the terminal (USER:PASSWORD works, but shows it to every user of `ps`)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand set" -l state -d 'Work on the jobs of this state directory, in this process, instead of the daemon\'s (default: $QMGR_STATE; `transfer` without one keeps its job in memory). Only `create` and `transfer` make it if it does not exist' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand set" -l address -d 'The qmgr daemon to talk to, a Varlink address (unix:/path/to/socket) (default: $QMGR_ADDRESS, else the per-user daemon\'s socket $XDG_RUNTIME_DIR/qmgr/io.qmgr if it exists, else the system daemon\'s /run/qmgr/io.qmgr)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand set" -l dynamic -d 'The server\'s content may change between requests: fetch each file in one request, never resume it, start again after any cut'
complete -c qmgr -n "__fish_qmgr_using_subcommand set" -l no-yield -d 'Do not yield: a background job then competes with other traffic like any download, instead of slowing when the network\'s queuing delay rises (FOREGROUND jobs never yield)'
complete -c qmgr -n "__fish_qmgr_using_subcommand set" -s h -l help -d 'Print help'
complete -c qmgr -n "__fish_qmgr_using_subcommand resume" -l state -d 'Work on the jobs of this state directory, in this process, instead of the daemon\'s (default: $QMGR_STATE; `transfer` without one keeps its job in memory). Only `create` and `transfer` make it if it does not exist' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand resume" -l address -d 'The qmgr daemon to talk to, a Varlink address (unix:/path/to/socket) (default: $QMGR_ADDRESS, else the per-user daemon\'s socket $XDG_RUNTIME_DIR/qmgr/io.qmgr if it exists, else the system daemon\'s /run/qmgr/io.qmgr)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand resume" -s h -l help -d 'Print help'
complete -c qmgr -n "__fish_qmgr_using_subcommand suspend" -l state -d 'Work on the jobs of this state directory, in this process, instead of the daemon\'s (default: $QMGR_STATE; `transfer` without one keeps its job in memory). Only `create` and `transfer` make it if it does not exist' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand suspend" -l address -d 'The qmgr daemon to talk to, a Varlink address (unix:/path/to/socket) (default: $QMGR_ADDRESS, else the per-user daemon\'s socket $XDG_RUNTIME_DIR/qmgr/io.qmgr if it exists, else the system daemon\'s /run/qmgr/io.qmgr)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand suspend" -s h -l help -d 'Print help'
complete -c qmgr -n "__fish_qmgr_using_subcommand cancel" -l state -d 'Work on the jobs of this state directory, in this process, instead of the daemon\'s (default: $QMGR_STATE; `transfer` without one keeps its job in memory). Only `create` and `transfer` make it if it does not exist' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand cancel" -l address -d 'The qmgr daemon to talk to, a Varlink address (unix:/path/to/socket) (default: $QMGR_ADDRESS, else the per-user daemon\'s socket $XDG_RUNTIME_DIR/qmgr/io.qmgr if it exists, else the system daemon\'s /run/qmgr/io.qmgr)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand cancel" -s h -l help -d 'Print help'
complete -c qmgr -n "__fish_qmgr_using_subcommand complete" -l state -d 'Work on the jobs of this state directory, in this process, instead of the daemon\'s (default: $QMGR_STATE; `transfer` without one keeps its job in memory). Only `create` and `transfer` make it if it does not exist' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand complete" -l address -d 'The qmgr daemon to talk to, a Varlink address (unix:/path/to/socket) (default: $QMGR_ADDRESS, else the per-user daemon\'s socket $XDG_RUNTIME_DIR/qmgr/io.qmgr if it exists, else the system daemon\'s /run/qmgr/io.qmgr)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand complete" -l partial -d 'Complete a job that is not TRANSFERRED without asking: its transferred files are moved into place, the others deleted with their partial data (exit 4)'
complete -c qmgr -n "__fish_qmgr_using_subcommand complete" -s h -l help -d 'Print help'
complete -c qmgr -n "__fish_qmgr_using_subcommand replace-prefix" -l state -d 'Work on the jobs of this state directory, in this process, instead of the daemon\'s (default: $QMGR_STATE; `transfer` without one keeps its job in memory). Only `create` and `transfer` make it if it does not exist' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand replace-prefix" -l address -d 'The qmgr daemon to talk to, a Varlink address (unix:/path/to/socket) (default: $QMGR_ADDRESS, else the per-user daemon\'s socket $XDG_RUNTIME_DIR/qmgr/io.qmgr if it exists, else the system daemon\'s /run/qmgr/io.qmgr)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand replace-prefix" -s h -l help -d 'Print help'
complete -c qmgr -n "__fish_qmgr_using_subcommand list" -l state -d 'Work on the jobs of this state directory, in this process, instead of the daemon\'s (default: $QMGR_STATE; `transfer` without one keeps its job in memory). Only `create` and `transfer` make it if it does not exist' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand list" -l address -d 'The qmgr daemon to talk to, a Varlink address (unix:/path/to/socket) (default: $QMGR_ADDRESS, else the per-user daemon\'s socket $XDG_RUNTIME_DIR/qmgr/io.qmgr if it exists, else the system daemon\'s /run/qmgr/io.qmgr)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand list" -l json -d 'Print JSON'
complete -c qmgr -n "__fish_qmgr_using_subcommand list" -l all-users -d 'Every user\'s jobs, not only yours (the daemon\'s administrators: root or its admin group; QM_E_ACCESSDENIED for others)'
complete -c qmgr -n "__fish_qmgr_using_subcommand list" -s h -l help -d 'Print help'
complete -c qmgr -n "__fish_qmgr_using_subcommand info" -l state -d 'Work on the jobs of this state directory, in this process, instead of the daemon\'s (default: $QMGR_STATE; `transfer` without one keeps its job in memory). Only `create` and `transfer` make it if it does not exist' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand info" -l address -d 'The qmgr daemon to talk to, a Varlink address (unix:/path/to/socket) (default: $QMGR_ADDRESS, else the per-user daemon\'s socket $XDG_RUNTIME_DIR/qmgr/io.qmgr if it exists, else the system daemon\'s /run/qmgr/io.qmgr)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand info" -l json -d 'Print JSON'
complete -c qmgr -n "__fish_qmgr_using_subcommand info" -s h -l help -d 'Print help'
complete -c qmgr -n "__fish_qmgr_using_subcommand monitor" -l state -d 'Work on the jobs of this state directory, in this process, instead of the daemon\'s (default: $QMGR_STATE; `transfer` without one keeps its job in memory). Only `create` and `transfer` make it if it does not exist' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand monitor" -l address -d 'The qmgr daemon to talk to, a Varlink address (unix:/path/to/socket) (default: $QMGR_ADDRESS, else the per-user daemon\'s socket $XDG_RUNTIME_DIR/qmgr/io.qmgr if it exists, else the system daemon\'s /run/qmgr/io.qmgr)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand monitor" -l once -d 'Print one table and exit'
complete -c qmgr -n "__fish_qmgr_using_subcommand monitor" -l json -d 'Print JSON (one array of jobs per refresh, one per line)'
complete -c qmgr -n "__fish_qmgr_using_subcommand monitor" -s h -l help -d 'Print help'
complete -c qmgr -n "__fish_qmgr_using_subcommand run" -l state -d 'Work on the jobs of this state directory, in this process, instead of the daemon\'s (default: $QMGR_STATE; `transfer` without one keeps its job in memory). Only `create` and `transfer` make it if it does not exist' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand run" -l address -d 'The qmgr daemon to talk to, a Varlink address (unix:/path/to/socket) (default: $QMGR_ADDRESS, else the per-user daemon\'s socket $XDG_RUNTIME_DIR/qmgr/io.qmgr if it exists, else the system daemon\'s /run/qmgr/io.qmgr)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand run" -l no-complete -d 'Leave transferred jobs in TRANSFERRED for a later `complete`'
complete -c qmgr -n "__fish_qmgr_using_subcommand run" -s q -l quiet -d 'Print no progress lines'
complete -c qmgr -n "__fish_qmgr_using_subcommand run" -s h -l help -d 'Print help'
complete -c qmgr -n "__fish_qmgr_using_subcommand completions" -l state -d 'Work on the jobs of this state directory, in this process, instead of the daemon\'s (default: $QMGR_STATE; `transfer` without one keeps its job in memory). Only `create` and `transfer` make it if it does not exist' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand completions" -l address -d 'The qmgr daemon to talk to, a Varlink address (unix:/path/to/socket) (default: $QMGR_ADDRESS, else the per-user daemon\'s socket $XDG_RUNTIME_DIR/qmgr/io.qmgr if it exists, else the system daemon\'s /run/qmgr/io.qmgr)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand completions" -s h -l help -d 'Print help'
complete -c qmgr -n "__fish_qmgr_using_subcommand manpage" -l state -d 'Work on the jobs of this state directory, in this process, instead of the daemon\'s (default: $QMGR_STATE; `transfer` without one keeps its job in memory). Only `create` and `transfer` make it if it does not exist' -r -F
complete -c qmgr -n "__fish_qmgr_using_subcommand manpage" -l address -d 'The qmgr daemon to talk to, a Varlink address (unix:/path/to/socket) (default: $QMGR_ADDRESS, else the per-user daemon\'s socket $XDG_RUNTIME_DIR/qmgr/io.qmgr if it exists, else the system daemon\'s /run/qmgr/io.qmgr)' -r
complete -c qmgr -n "__fish_qmgr_using_subcommand manpage" -s h -l help -d 'Print help'
complete -c qmgr -n "__fish_qmgr_using_subcommand help; and not __fish_seen_subcommand_from transfer upload create add set resume suspend cancel complete replace-prefix list info monitor run completions manpage help" -f -a "transfer" -d 'Transfer files now: create a job, show its progress, complete it. It runs in this process, daemon or not (with --state its job is kept there if interrupted, for `run`)'
complete -c qmgr -n "__fish_qmgr_using_subcommand help; and not __fish_seen_subcommand_from transfer upload create add set resume suspend cancel complete replace-prefix list info monitor run completions manpage help" -f -a "upload" -d 'Upload a file now (a resumable upload: tus 1.0, or the IETF draft with --protocol rufh): create an upload job, show its progress, complete it. It runs in this process (with --state its job is kept there if interrupted, for `run`)'
complete -c qmgr -n "__fish_qmgr_using_subcommand help; and not __fish_seen_subcommand_from transfer upload create add set resume suspend cancel complete replace-prefix list info monitor run completions manpage help" -f -a "create" -d 'Create a suspended job and print its id'
complete -c qmgr -n "__fish_qmgr_using_subcommand help; and not __fish_seen_subcommand_from transfer upload create add set resume suspend cancel complete replace-prefix list info monitor run completions manpage help" -f -a "add" -d 'Add a file to a job'
complete -c qmgr -n "__fish_qmgr_using_subcommand help; and not __fish_seen_subcommand_from transfer upload create add set resume suspend cancel complete replace-prefix list info monitor run completions manpage help" -f -a "set" -d 'Change a job\'s options (those not given stay as they are)'
complete -c qmgr -n "__fish_qmgr_using_subcommand help; and not __fish_seen_subcommand_from transfer upload create add set resume suspend cancel complete replace-prefix list info monitor run completions manpage help" -f -a "resume" -d 'Queue a job for transfer (SUSPENDED or ERROR → QUEUED)'
complete -c qmgr -n "__fish_qmgr_using_subcommand help; and not __fish_seen_subcommand_from transfer upload create add set resume suspend cancel complete replace-prefix list info monitor run completions manpage help" -f -a "suspend" -d 'Stop a job; its partial data is kept'
complete -c qmgr -n "__fish_qmgr_using_subcommand help; and not __fish_seen_subcommand_from transfer upload create add set resume suspend cancel complete replace-prefix list info monitor run completions manpage help" -f -a "cancel" -d 'Cancel a job and delete its temporary files'
complete -c qmgr -n "__fish_qmgr_using_subcommand help; and not __fish_seen_subcommand_from transfer upload create add set resume suspend cancel complete replace-prefix list info monitor run completions manpage help" -f -a "complete" -d 'Move a job\'s transferred files into place and end the job. A job that is not TRANSFERRED is completed partially, as BITS does: the files not transferred are deleted with their partial data; on a terminal qmgr lists them and asks first, elsewhere it needs --partial'
complete -c qmgr -n "__fish_qmgr_using_subcommand help; and not __fish_seen_subcommand_from transfer upload create add set resume suspend cancel complete replace-prefix list info monitor run completions manpage help" -f -a "replace-prefix" -d 'Replace the start of the job\'s remote names (switch mirrors), keeping the bytes already transferred'
complete -c qmgr -n "__fish_qmgr_using_subcommand help; and not __fish_seen_subcommand_from transfer upload create add set resume suspend cancel complete replace-prefix list info monitor run completions manpage help" -f -a "list" -d 'List the jobs that are not completed or cancelled'
complete -c qmgr -n "__fish_qmgr_using_subcommand help; and not __fish_seen_subcommand_from transfer upload create add set resume suspend cancel complete replace-prefix list info monitor run completions manpage help" -f -a "info" -d 'Show one job and its files'
complete -c qmgr -n "__fish_qmgr_using_subcommand help; and not __fish_seen_subcommand_from transfer upload create add set resume suspend cancel complete replace-prefix list info monitor run completions manpage help" -f -a "monitor" -d 'Show a live table of the jobs until none is active'
complete -c qmgr -n "__fish_qmgr_using_subcommand help; and not __fish_seen_subcommand_from transfer upload create add set resume suspend cancel complete replace-prefix list info monitor run completions manpage help" -f -a "run" -d 'Transfer the jobs of the state directory (--state) until none is active, completing each job once transferred (the daemon\'s jobs run by themselves)'
complete -c qmgr -n "__fish_qmgr_using_subcommand help; and not __fish_seen_subcommand_from transfer upload create add set resume suspend cancel complete replace-prefix list info monitor run completions manpage help" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c qmgr -n "__fish_qmgr_using_subcommand help; and not __fish_seen_subcommand_from transfer upload create add set resume suspend cancel complete replace-prefix list info monitor run completions manpage help" -f -a "manpage" -d 'Write the manual pages (qmgr.1, qmgr-VERB.1) into DIR, as `make install` installs them'
complete -c qmgr -n "__fish_qmgr_using_subcommand help; and not __fish_seen_subcommand_from transfer upload create add set resume suspend cancel complete replace-prefix list info monitor run completions manpage help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
