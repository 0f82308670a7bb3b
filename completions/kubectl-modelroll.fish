# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_kubectl_modelroll_global_optspecs
    string join \n kubeconfig= context= contexts= wave-size= bake= cluster= user= n/namespace= request-timeout= v/verbose no-color y/yes h/help
end

function __fish_kubectl_modelroll_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_kubectl_modelroll_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_kubectl_modelroll_using_subcommand
    set -l cmd (__fish_kubectl_modelroll_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -l kubeconfig -d 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -l contexts -d 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -l wave-size -d 'With --contexts: how many contexts a wave changes at once' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -l bake -d 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -l cluster -d 'The kubeconfig cluster to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -l user -d 'The kubeconfig user to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -s n -l namespace -d 'Namespace (else the context\'s namespace, else `default`)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -l request-timeout -d 'Timeout of a single API request, kubectl\'s format (`30s`, `1m`, `0` = none)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -s v -l verbose -d 'Log to stderr; repeat (-vv) to show each API request'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -l no-color -d 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -s y -l yes -d 'Never prompt; take the offered choice'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -s h -l help -d 'Print help'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -f -a "set-image" -d 'Rolling update of the model\'s image(s); waits and shows progress'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -f -a "status" -d 'One screen: tracks, revisions, images, model versions, ready pods, traffic, phase, problems'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -f -a "list" -d 'Every model under modelroll\'s care in the namespace'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -f -a "history" -d 'Revisions: number, image(s), model version, change cause, age'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -f -a "undo" -d 'Roll back to the previous (or a given) revision; waits and shows progress'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -f -a "canary" -d 'Start a canary of a new model version'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -f -a "shift" -d 'Move traffic to the canary, at once or in steps'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -f -a "promote" -d 'Make the canary the new stable and clean up'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -f -a "abort" -d 'Send all traffic back to stable and remove the canary'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -f -a "completion" -d 'Print a shell completion script'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -f -a "playground" -d 'Serve a simulated Kubernetes cluster on loopback'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -f -a "demo" -d 'Run the whole lifecycle on an in-process playground and narrate it'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -f -a "version" -d 'Print version, git commit and build target'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l max-surge -d 'maxSurge of the RollingUpdate strategy (N or P%), written in the same update' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l max-unavailable -d 'maxUnavailable of the RollingUpdate strategy (N or P%), written in the same update' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l model-version -d 'Model version, set as pod template label modelroll.io/model-version' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l unschedulable-timeout -d 'Fail when a new pod stays Unschedulable this long' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l interval -d 'How often the metric checks are evaluated while the rollout runs' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l check -d 'Metric check \'QUERY OP THRESHOLD\' (repeatable): PromQL returning one number, OP one of <, <=, >, >=; placeholders {{namespace}} {{name}} {{canary}} {{stable}} {{interval}}' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l check-file -d 'Read checks from YAML: `checks: [{name, query, op, threshold}]`' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l prometheus -d 'Prometheus: http(s)://HOST:PORT[/PATH], or NAMESPACE/SERVICE:PORT through the API server\'s service proxy (else $MODELROLL_PROMETHEUS)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l failure-limit -d 'Failed evaluations tolerated before the checks fail' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l model-ready -d 'Count a new pod only once its model server says its model is ready, asked through the API server\'s pod proxy: v2 (GET /v2/models/MODEL/ready), openai (GET /v1/models lists MODEL) or http:PATH (GET PATH answers 2xx)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l model-name -d 'The model asked about (default: the target\'s name)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l warmup -d 'Send N inference requests to each new pod once its model is ready; the pod counts when all succeed' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l warmup-body -d 'JSON body of the warm-up requests (default: a minimal request of the protocol)' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l model-ready-timeout -d 'How long a new pod may take to be model-ready before the command fails' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l timeout -d 'How long to wait for the change to complete' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l dry-run -d 'Print the objects that would be written and write nothing' -r -f -a "none\t''
client\t''
server\t''"
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -s o -l output -d 'Output format of --dry-run' -r -f -a "json\t''
yaml\t''"
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l kubeconfig -d 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l contexts -d 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l wave-size -d 'With --contexts: how many contexts a wave changes at once' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l bake -d 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l cluster -d 'The kubeconfig cluster to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l user -d 'The kubeconfig user to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -s n -l namespace -d 'Namespace (else the context\'s namespace, else `default`)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l request-timeout -d 'Timeout of a single API request, kubectl\'s format (`30s`, `1m`, `0` = none)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l rollback-on-failure -d 'On failure or timeout, undo to the previous revision and wait for it'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l no-wait -d 'Return once the change is accepted, without waiting'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -s v -l verbose -d 'Log to stderr; repeat (-vv) to show each API request'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -l no-color -d 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -s y -l yes -d 'Never prompt; take the offered choice'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand set-image" -s h -l help -d 'Print help'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand status" -s o -l output -d 'Output format' -r -f -a "table\t''
wide\t''
json\t''
yaml\t''"
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand status" -l kubeconfig -d 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand status" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand status" -l contexts -d 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand status" -l wave-size -d 'With --contexts: how many contexts a wave changes at once' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand status" -l bake -d 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand status" -l cluster -d 'The kubeconfig cluster to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand status" -l user -d 'The kubeconfig user to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand status" -s n -l namespace -d 'Namespace (else the context\'s namespace, else `default`)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand status" -l request-timeout -d 'Timeout of a single API request, kubectl\'s format (`30s`, `1m`, `0` = none)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand status" -s w -l watch -d 'Redraw on every change until interrupted'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand status" -s v -l verbose -d 'Log to stderr; repeat (-vv) to show each API request'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand status" -l no-color -d 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand status" -s y -l yes -d 'Never prompt; take the offered choice'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand status" -s h -l help -d 'Print help'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand list" -s o -l output -d 'Output format' -r -f -a "table\t''
wide\t''
json\t''
yaml\t''"
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand list" -l kubeconfig -d 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand list" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand list" -l contexts -d 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand list" -l wave-size -d 'With --contexts: how many contexts a wave changes at once' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand list" -l bake -d 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand list" -l cluster -d 'The kubeconfig cluster to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand list" -l user -d 'The kubeconfig user to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand list" -s n -l namespace -d 'Namespace (else the context\'s namespace, else `default`)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand list" -l request-timeout -d 'Timeout of a single API request, kubectl\'s format (`30s`, `1m`, `0` = none)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand list" -s A -l all-namespaces -d 'List across all namespaces'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand list" -s v -l verbose -d 'Log to stderr; repeat (-vv) to show each API request'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand list" -l no-color -d 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand list" -s y -l yes -d 'Never prompt; take the offered choice'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand list" -s h -l help -d 'Print help'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand history" -s o -l output -d 'Output format' -r -f -a "table\t''
wide\t''
json\t''
yaml\t''"
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand history" -l kubeconfig -d 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand history" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand history" -l contexts -d 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand history" -l wave-size -d 'With --contexts: how many contexts a wave changes at once' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand history" -l bake -d 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand history" -l cluster -d 'The kubeconfig cluster to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand history" -l user -d 'The kubeconfig user to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand history" -s n -l namespace -d 'Namespace (else the context\'s namespace, else `default`)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand history" -l request-timeout -d 'Timeout of a single API request, kubectl\'s format (`30s`, `1m`, `0` = none)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand history" -s v -l verbose -d 'Log to stderr; repeat (-vv) to show each API request'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand history" -l no-color -d 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand history" -s y -l yes -d 'Never prompt; take the offered choice'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand history" -s h -l help -d 'Print help'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand undo" -l to-revision -d 'Revision to roll back to (default: the previous one)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand undo" -l timeout -d 'How long to wait for the change to complete' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand undo" -l dry-run -d 'Print the objects that would be written and write nothing' -r -f -a "none\t''
client\t''
server\t''"
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand undo" -s o -l output -d 'Output format of --dry-run' -r -f -a "json\t''
yaml\t''"
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand undo" -l kubeconfig -d 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand undo" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand undo" -l contexts -d 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand undo" -l wave-size -d 'With --contexts: how many contexts a wave changes at once' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand undo" -l bake -d 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand undo" -l cluster -d 'The kubeconfig cluster to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand undo" -l user -d 'The kubeconfig user to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand undo" -s n -l namespace -d 'Namespace (else the context\'s namespace, else `default`)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand undo" -l request-timeout -d 'Timeout of a single API request, kubectl\'s format (`30s`, `1m`, `0` = none)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand undo" -l no-wait -d 'Return once the change is accepted, without waiting'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand undo" -s v -l verbose -d 'Log to stderr; repeat (-vv) to show each API request'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand undo" -l no-color -d 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand undo" -s y -l yes -d 'Never prompt; take the offered choice'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand undo" -s h -l help -d 'Print help'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l image -d 'Image of the canary: IMAGE or CONTAINER=IMAGE' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l weight -d 'Traffic weight (0-100) given to the canary once it is ready' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l router -d 'How traffic is split between stable and canary' -r -f -a "auto\t''
replicas\t''
istio\t''
gateway-api\t''
knative\t''"
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l route -d 'An existing VirtualService or HTTPRoute to manage' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l model-version -d 'Model version of the canary (pod template label modelroll.io/model-version)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l container -d 'Container whose image the canary changes' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l interval -d 'Hold the weight this long while watching the canary (and evaluating the checks)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l check -d 'Metric check \'QUERY OP THRESHOLD\' (repeatable): PromQL returning one number, OP one of <, <=, >, >=; placeholders {{namespace}} {{name}} {{canary}} {{stable}} {{interval}}' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l check-file -d 'Read checks from YAML: `checks: [{name, query, op, threshold}]`' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l prometheus -d 'Prometheus: http(s)://HOST:PORT[/PATH], or NAMESPACE/SERVICE:PORT through the API server\'s service proxy (else $MODELROLL_PROMETHEUS)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l failure-limit -d 'Failed evaluations tolerated before the checks fail' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l on-failure -d 'What a failed check does: abort (as `abort` does) or hold (the canary kept at weight 0)' -r -f -a "abort\t''
hold\t''"
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l model-ready -d 'Count a new pod only once its model server says its model is ready, asked through the API server\'s pod proxy: v2 (GET /v2/models/MODEL/ready), openai (GET /v1/models lists MODEL) or http:PATH (GET PATH answers 2xx)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l model-name -d 'The model asked about (default: the target\'s name)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l warmup -d 'Send N inference requests to each new pod once its model is ready; the pod counts when all succeed' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l warmup-body -d 'JSON body of the warm-up requests (default: a minimal request of the protocol)' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l model-ready-timeout -d 'How long a new pod may take to be model-ready before the command fails' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l timeout -d 'How long to wait for the change to complete' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l dry-run -d 'Print the objects that would be written and write nothing' -r -f -a "none\t''
client\t''
server\t''"
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -s o -l output -d 'Output format of --dry-run' -r -f -a "json\t''
yaml\t''"
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l kubeconfig -d 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l contexts -d 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l wave-size -d 'With --contexts: how many contexts a wave changes at once' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l bake -d 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l cluster -d 'The kubeconfig cluster to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l user -d 'The kubeconfig user to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -s n -l namespace -d 'Namespace (else the context\'s namespace, else `default`)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l request-timeout -d 'Timeout of a single API request, kubectl\'s format (`30s`, `1m`, `0` = none)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l no-wait -d 'Return once the change is accepted, without waiting'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -s v -l verbose -d 'Log to stderr; repeat (-vv) to show each API request'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -l no-color -d 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -s y -l yes -d 'Never prompt; take the offered choice'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand canary" -s h -l help -d 'Print help'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l weight -d 'Traffic weight (0-100) for the canary' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l steps -d 'Increasing weights to step through, e.g. 10,25,50,100' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l interval -d 'Time to hold each step but the last (all with checks)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l check -d 'Metric check \'QUERY OP THRESHOLD\' (repeatable): PromQL returning one number, OP one of <, <=, >, >=; placeholders {{namespace}} {{name}} {{canary}} {{stable}} {{interval}}' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l check-file -d 'Read checks from YAML: `checks: [{name, query, op, threshold}]`' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l prometheus -d 'Prometheus: http(s)://HOST:PORT[/PATH], or NAMESPACE/SERVICE:PORT through the API server\'s service proxy (else $MODELROLL_PROMETHEUS)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l failure-limit -d 'Failed evaluations tolerated before the checks fail' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l on-failure -d 'What a failed check does: abort (as `abort` does) or hold (the canary kept at weight 0)' -r -f -a "abort\t''
hold\t''"
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l model-ready -d 'Count a new pod only once its model server says its model is ready, asked through the API server\'s pod proxy: v2 (GET /v2/models/MODEL/ready), openai (GET /v1/models lists MODEL) or http:PATH (GET PATH answers 2xx)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l model-name -d 'The model asked about (default: the target\'s name)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l warmup -d 'Send N inference requests to each new pod once its model is ready; the pod counts when all succeed' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l warmup-body -d 'JSON body of the warm-up requests (default: a minimal request of the protocol)' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l model-ready-timeout -d 'How long a new pod may take to be model-ready before the command fails' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l timeout -d 'How long to wait for the change to complete' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l dry-run -d 'Print the objects that would be written and write nothing' -r -f -a "none\t''
client\t''
server\t''"
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -s o -l output -d 'Output format of --dry-run' -r -f -a "json\t''
yaml\t''"
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l kubeconfig -d 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l contexts -d 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l wave-size -d 'With --contexts: how many contexts a wave changes at once' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l bake -d 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l cluster -d 'The kubeconfig cluster to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l user -d 'The kubeconfig user to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -s n -l namespace -d 'Namespace (else the context\'s namespace, else `default`)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l request-timeout -d 'Timeout of a single API request, kubectl\'s format (`30s`, `1m`, `0` = none)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l no-wait -d 'Return once the change is accepted, without waiting'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -s v -l verbose -d 'Log to stderr; repeat (-vv) to show each API request'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -l no-color -d 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -s y -l yes -d 'Never prompt; take the offered choice'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand shift" -s h -l help -d 'Print help'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -l model-ready -d 'Count a new pod only once its model server says its model is ready, asked through the API server\'s pod proxy: v2 (GET /v2/models/MODEL/ready), openai (GET /v1/models lists MODEL) or http:PATH (GET PATH answers 2xx)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -l model-name -d 'The model asked about (default: the target\'s name)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -l warmup -d 'Send N inference requests to each new pod once its model is ready; the pod counts when all succeed' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -l warmup-body -d 'JSON body of the warm-up requests (default: a minimal request of the protocol)' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -l model-ready-timeout -d 'How long a new pod may take to be model-ready before the command fails' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -l timeout -d 'How long to wait for the change to complete' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -l dry-run -d 'Print the objects that would be written and write nothing' -r -f -a "none\t''
client\t''
server\t''"
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -s o -l output -d 'Output format of --dry-run' -r -f -a "json\t''
yaml\t''"
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -l kubeconfig -d 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -l contexts -d 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -l wave-size -d 'With --contexts: how many contexts a wave changes at once' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -l bake -d 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -l cluster -d 'The kubeconfig cluster to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -l user -d 'The kubeconfig user to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -s n -l namespace -d 'Namespace (else the context\'s namespace, else `default`)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -l request-timeout -d 'Timeout of a single API request, kubectl\'s format (`30s`, `1m`, `0` = none)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -l no-wait -d 'Return once the change is accepted, without waiting'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -s v -l verbose -d 'Log to stderr; repeat (-vv) to show each API request'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -l no-color -d 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -s y -l yes -d 'Never prompt; take the offered choice'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand promote" -s h -l help -d 'Print help'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand abort" -l timeout -d 'How long to wait for the change to complete' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand abort" -l dry-run -d 'Print the objects that would be written and write nothing' -r -f -a "none\t''
client\t''
server\t''"
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand abort" -s o -l output -d 'Output format of --dry-run' -r -f -a "json\t''
yaml\t''"
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand abort" -l kubeconfig -d 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand abort" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand abort" -l contexts -d 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand abort" -l wave-size -d 'With --contexts: how many contexts a wave changes at once' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand abort" -l bake -d 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand abort" -l cluster -d 'The kubeconfig cluster to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand abort" -l user -d 'The kubeconfig user to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand abort" -s n -l namespace -d 'Namespace (else the context\'s namespace, else `default`)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand abort" -l request-timeout -d 'Timeout of a single API request, kubectl\'s format (`30s`, `1m`, `0` = none)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand abort" -l no-wait -d 'Return once the change is accepted, without waiting'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand abort" -s v -l verbose -d 'Log to stderr; repeat (-vv) to show each API request'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand abort" -l no-color -d 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand abort" -s y -l yes -d 'Never prompt; take the offered choice'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand abort" -s h -l help -d 'Print help'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand completion" -l kubeconfig -d 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand completion" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand completion" -l contexts -d 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand completion" -l wave-size -d 'With --contexts: how many contexts a wave changes at once' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand completion" -l bake -d 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand completion" -l cluster -d 'The kubeconfig cluster to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand completion" -l user -d 'The kubeconfig user to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand completion" -s n -l namespace -d 'Namespace (else the context\'s namespace, else `default`)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand completion" -l request-timeout -d 'Timeout of a single API request, kubectl\'s format (`30s`, `1m`, `0` = none)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand completion" -l install -d 'With kubectl-plugin: write kubectl_complete-modelroll, executable, next to this kubectl-modelroll on PATH (where kubectl looks for it)'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand completion" -s v -l verbose -d 'Log to stderr; repeat (-vv) to show each API request'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand completion" -l no-color -d 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand completion" -s y -l yes -d 'Never prompt; take the offered choice'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand completion" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -s p -l port -d 'Port on 127.0.0.1 (0 picks a free one)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -l kubeconfig-out -d 'Where to write the playground\'s kubeconfig' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -l nodes -d 'Number of simulated nodes' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -l gpus-per-node -d 'nvidia.com/gpu allocatable on each node' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -l ready-after -d 'How long a pod takes to become ready (per pod, annotation playground.modelroll.io/ready-after overrides it)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -l crds -d 'Load CustomResourceDefinition files from this directory (recursively) at start' -r -f -a "(__fish_complete_directories)"
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -l with -d 'Register compact built-in CRDs for these groups: istio, gateway-api, knative' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -l faults -d 'Faults for reliability tests, e.g. latency=50ms,429=0.1,500=0.05,watch-close=30s,409=0.1' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -l token-auth-file -d 'Users authorized by RBAC: CSV lines token,user,uid,"group1,group2" as kube-apiserver\'s --token-auth-file' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -l kubeconfig -d 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -l contexts -d 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -l wave-size -d 'With --contexts: how many contexts a wave changes at once' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -l bake -d 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -l cluster -d 'The kubeconfig cluster to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -l user -d 'The kubeconfig user to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -s n -l namespace -d 'Namespace (else the context\'s namespace, else `default`)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -l request-timeout -d 'Timeout of a single API request, kubectl\'s format (`30s`, `1m`, `0` = none)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -s v -l verbose -d 'Log to stderr; repeat (-vv) to show each API request'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -l no-color -d 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -s y -l yes -d 'Never prompt; take the offered choice'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand playground" -s h -l help -d 'Print help'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand demo" -l router -d 'Router for the canary acts' -r -f -a "auto\t''
replicas\t''
istio\t''
gateway-api\t''
knative\t''"
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand demo" -l kubeconfig -d 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand demo" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand demo" -l contexts -d 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand demo" -l wave-size -d 'With --contexts: how many contexts a wave changes at once' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand demo" -l bake -d 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand demo" -l cluster -d 'The kubeconfig cluster to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand demo" -l user -d 'The kubeconfig user to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand demo" -s n -l namespace -d 'Namespace (else the context\'s namespace, else `default`)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand demo" -l request-timeout -d 'Timeout of a single API request, kubectl\'s format (`30s`, `1m`, `0` = none)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand demo" -s v -l verbose -d 'Log to stderr; repeat (-vv) to show each API request'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand demo" -l no-color -d 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand demo" -s y -l yes -d 'Never prompt; take the offered choice'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand demo" -s h -l help -d 'Print help'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand version" -s o -l output -d 'Output format' -r -f -a "json\t''
yaml\t''"
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand version" -l kubeconfig -d 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)' -r -F
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand version" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand version" -l contexts -d 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand version" -l wave-size -d 'With --contexts: how many contexts a wave changes at once' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand version" -l bake -d 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand version" -l cluster -d 'The kubeconfig cluster to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand version" -l user -d 'The kubeconfig user to use' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand version" -s n -l namespace -d 'Namespace (else the context\'s namespace, else `default`)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand version" -l request-timeout -d 'Timeout of a single API request, kubectl\'s format (`30s`, `1m`, `0` = none)' -r
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand version" -s v -l verbose -d 'Log to stderr; repeat (-vv) to show each API request'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand version" -l no-color -d 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand version" -s y -l yes -d 'Never prompt; take the offered choice'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand version" -s h -l help -d 'Print help'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand help; and not __fish_seen_subcommand_from set-image status list history undo canary shift promote abort completion playground demo version help" -f -a "set-image" -d 'Rolling update of the model\'s image(s); waits and shows progress'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand help; and not __fish_seen_subcommand_from set-image status list history undo canary shift promote abort completion playground demo version help" -f -a "status" -d 'One screen: tracks, revisions, images, model versions, ready pods, traffic, phase, problems'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand help; and not __fish_seen_subcommand_from set-image status list history undo canary shift promote abort completion playground demo version help" -f -a "list" -d 'Every model under modelroll\'s care in the namespace'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand help; and not __fish_seen_subcommand_from set-image status list history undo canary shift promote abort completion playground demo version help" -f -a "history" -d 'Revisions: number, image(s), model version, change cause, age'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand help; and not __fish_seen_subcommand_from set-image status list history undo canary shift promote abort completion playground demo version help" -f -a "undo" -d 'Roll back to the previous (or a given) revision; waits and shows progress'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand help; and not __fish_seen_subcommand_from set-image status list history undo canary shift promote abort completion playground demo version help" -f -a "canary" -d 'Start a canary of a new model version'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand help; and not __fish_seen_subcommand_from set-image status list history undo canary shift promote abort completion playground demo version help" -f -a "shift" -d 'Move traffic to the canary, at once or in steps'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand help; and not __fish_seen_subcommand_from set-image status list history undo canary shift promote abort completion playground demo version help" -f -a "promote" -d 'Make the canary the new stable and clean up'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand help; and not __fish_seen_subcommand_from set-image status list history undo canary shift promote abort completion playground demo version help" -f -a "abort" -d 'Send all traffic back to stable and remove the canary'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand help; and not __fish_seen_subcommand_from set-image status list history undo canary shift promote abort completion playground demo version help" -f -a "completion" -d 'Print a shell completion script'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand help; and not __fish_seen_subcommand_from set-image status list history undo canary shift promote abort completion playground demo version help" -f -a "playground" -d 'Serve a simulated Kubernetes cluster on loopback'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand help; and not __fish_seen_subcommand_from set-image status list history undo canary shift promote abort completion playground demo version help" -f -a "demo" -d 'Run the whole lifecycle on an in-process playground and narrate it'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand help; and not __fish_seen_subcommand_from set-image status list history undo canary shift promote abort completion playground demo version help" -f -a "version" -d 'Print version, git commit and build target'
complete -c kubectl-modelroll -n "__fish_kubectl_modelroll_using_subcommand help; and not __fish_seen_subcommand_from set-image status list history undo canary shift promote abort completion playground demo version help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
