
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'kubectl-modelroll' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'kubectl-modelroll'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'kubectl-modelroll' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('--contexts', '--contexts', [CompletionResultType]::ParameterName, 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column')
            [CompletionResult]::new('--wave-size', '--wave-size', [CompletionResultType]::ParameterName, 'With --contexts: how many contexts a wave changes at once')
            [CompletionResult]::new('--bake', '--bake', [CompletionResultType]::ParameterName, 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The kubeconfig cluster to use')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The kubeconfig user to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('set-image', 'set-image', [CompletionResultType]::ParameterValue, 'Rolling update of the model''s image(s); waits and shows progress')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'One screen: tracks, revisions, images, model versions, ready pods, traffic, phase, problems')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Every model under modelroll''s care in the namespace')
            [CompletionResult]::new('history', 'history', [CompletionResultType]::ParameterValue, 'Revisions: number, image(s), model version, change cause, age')
            [CompletionResult]::new('undo', 'undo', [CompletionResultType]::ParameterValue, 'Roll back to the previous (or a given) revision; waits and shows progress')
            [CompletionResult]::new('canary', 'canary', [CompletionResultType]::ParameterValue, 'Start a canary of a new model version')
            [CompletionResult]::new('shift', 'shift', [CompletionResultType]::ParameterValue, 'Move traffic to the canary, at once or in steps')
            [CompletionResult]::new('promote', 'promote', [CompletionResultType]::ParameterValue, 'Make the canary the new stable and clean up')
            [CompletionResult]::new('abort', 'abort', [CompletionResultType]::ParameterValue, 'Send all traffic back to stable and remove the canary')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('playground', 'playground', [CompletionResultType]::ParameterValue, 'Serve a simulated Kubernetes cluster on loopback')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Run the whole lifecycle on an in-process playground and narrate it')
            [CompletionResult]::new('version', 'version', [CompletionResultType]::ParameterValue, 'Print version, git commit and build target')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'kubectl-modelroll;set-image' {
            [CompletionResult]::new('--max-surge', '--max-surge', [CompletionResultType]::ParameterName, 'maxSurge of the RollingUpdate strategy (N or P%), written in the same update')
            [CompletionResult]::new('--max-unavailable', '--max-unavailable', [CompletionResultType]::ParameterName, 'maxUnavailable of the RollingUpdate strategy (N or P%), written in the same update')
            [CompletionResult]::new('--model-version', '--model-version', [CompletionResultType]::ParameterName, 'Model version, set as pod template label modelroll.io/model-version')
            [CompletionResult]::new('--unschedulable-timeout', '--unschedulable-timeout', [CompletionResultType]::ParameterName, 'Fail when a new pod stays Unschedulable this long')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'How often the metric checks are evaluated while the rollout runs')
            [CompletionResult]::new('--check', '--check', [CompletionResultType]::ParameterName, 'Metric check ''QUERY OP THRESHOLD'' (repeatable): PromQL returning one number, OP one of <, <=, >, >=; placeholders {{namespace}} {{name}} {{canary}} {{stable}} {{interval}}')
            [CompletionResult]::new('--check-file', '--check-file', [CompletionResultType]::ParameterName, 'Read checks from YAML: `checks: [{name, query, op, threshold}]`')
            [CompletionResult]::new('--prometheus', '--prometheus', [CompletionResultType]::ParameterName, 'Prometheus: http(s)://HOST:PORT[/PATH], or NAMESPACE/SERVICE:PORT through the API server''s service proxy (else $MODELROLL_PROMETHEUS)')
            [CompletionResult]::new('--failure-limit', '--failure-limit', [CompletionResultType]::ParameterName, 'Failed evaluations tolerated before the checks fail')
            [CompletionResult]::new('--model-ready', '--model-ready', [CompletionResultType]::ParameterName, 'Count a new pod only once its model server says its model is ready, asked through the API server''s pod proxy: v2 (GET /v2/models/MODEL/ready), openai (GET /v1/models lists MODEL) or http:PATH (GET PATH answers 2xx)')
            [CompletionResult]::new('--model-name', '--model-name', [CompletionResultType]::ParameterName, 'The model asked about (default: the target''s name)')
            [CompletionResult]::new('--warmup', '--warmup', [CompletionResultType]::ParameterName, 'Send N inference requests to each new pod once its model is ready; the pod counts when all succeed')
            [CompletionResult]::new('--warmup-body', '--warmup-body', [CompletionResultType]::ParameterName, 'JSON body of the warm-up requests (default: a minimal request of the protocol)')
            [CompletionResult]::new('--model-ready-timeout', '--model-ready-timeout', [CompletionResultType]::ParameterName, 'How long a new pod may take to be model-ready before the command fails')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the change to complete')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the objects that would be written and write nothing')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of --dry-run')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of --dry-run')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('--contexts', '--contexts', [CompletionResultType]::ParameterName, 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column')
            [CompletionResult]::new('--wave-size', '--wave-size', [CompletionResultType]::ParameterName, 'With --contexts: how many contexts a wave changes at once')
            [CompletionResult]::new('--bake', '--bake', [CompletionResultType]::ParameterName, 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The kubeconfig cluster to use')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The kubeconfig user to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)')
            [CompletionResult]::new('--rollback-on-failure', '--rollback-on-failure', [CompletionResultType]::ParameterName, 'On failure or timeout, undo to the previous revision and wait for it')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Return once the change is accepted, without waiting')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-modelroll;status' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('--contexts', '--contexts', [CompletionResultType]::ParameterName, 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column')
            [CompletionResult]::new('--wave-size', '--wave-size', [CompletionResultType]::ParameterName, 'With --contexts: how many contexts a wave changes at once')
            [CompletionResult]::new('--bake', '--bake', [CompletionResultType]::ParameterName, 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The kubeconfig cluster to use')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The kubeconfig user to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Redraw on every change until interrupted')
            [CompletionResult]::new('--watch', '--watch', [CompletionResultType]::ParameterName, 'Redraw on every change until interrupted')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-modelroll;list' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('--contexts', '--contexts', [CompletionResultType]::ParameterName, 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column')
            [CompletionResult]::new('--wave-size', '--wave-size', [CompletionResultType]::ParameterName, 'With --contexts: how many contexts a wave changes at once')
            [CompletionResult]::new('--bake', '--bake', [CompletionResultType]::ParameterName, 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The kubeconfig cluster to use')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The kubeconfig user to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'List across all namespaces')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'List across all namespaces')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-modelroll;history' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('--contexts', '--contexts', [CompletionResultType]::ParameterName, 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column')
            [CompletionResult]::new('--wave-size', '--wave-size', [CompletionResultType]::ParameterName, 'With --contexts: how many contexts a wave changes at once')
            [CompletionResult]::new('--bake', '--bake', [CompletionResultType]::ParameterName, 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The kubeconfig cluster to use')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The kubeconfig user to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-modelroll;undo' {
            [CompletionResult]::new('--to-revision', '--to-revision', [CompletionResultType]::ParameterName, 'Revision to roll back to (default: the previous one)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the change to complete')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the objects that would be written and write nothing')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of --dry-run')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of --dry-run')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('--contexts', '--contexts', [CompletionResultType]::ParameterName, 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column')
            [CompletionResult]::new('--wave-size', '--wave-size', [CompletionResultType]::ParameterName, 'With --contexts: how many contexts a wave changes at once')
            [CompletionResult]::new('--bake', '--bake', [CompletionResultType]::ParameterName, 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The kubeconfig cluster to use')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The kubeconfig user to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Return once the change is accepted, without waiting')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-modelroll;canary' {
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'Image of the canary: IMAGE or CONTAINER=IMAGE')
            [CompletionResult]::new('--weight', '--weight', [CompletionResultType]::ParameterName, 'Traffic weight (0-100) given to the canary once it is ready')
            [CompletionResult]::new('--router', '--router', [CompletionResultType]::ParameterName, 'How traffic is split between stable and canary')
            [CompletionResult]::new('--route', '--route', [CompletionResultType]::ParameterName, 'An existing VirtualService or HTTPRoute to manage')
            [CompletionResult]::new('--model-version', '--model-version', [CompletionResultType]::ParameterName, 'Model version of the canary (pod template label modelroll.io/model-version)')
            [CompletionResult]::new('--container', '--container', [CompletionResultType]::ParameterName, 'Container whose image the canary changes')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'Hold the weight this long while watching the canary (and evaluating the checks)')
            [CompletionResult]::new('--check', '--check', [CompletionResultType]::ParameterName, 'Metric check ''QUERY OP THRESHOLD'' (repeatable): PromQL returning one number, OP one of <, <=, >, >=; placeholders {{namespace}} {{name}} {{canary}} {{stable}} {{interval}}')
            [CompletionResult]::new('--check-file', '--check-file', [CompletionResultType]::ParameterName, 'Read checks from YAML: `checks: [{name, query, op, threshold}]`')
            [CompletionResult]::new('--prometheus', '--prometheus', [CompletionResultType]::ParameterName, 'Prometheus: http(s)://HOST:PORT[/PATH], or NAMESPACE/SERVICE:PORT through the API server''s service proxy (else $MODELROLL_PROMETHEUS)')
            [CompletionResult]::new('--failure-limit', '--failure-limit', [CompletionResultType]::ParameterName, 'Failed evaluations tolerated before the checks fail')
            [CompletionResult]::new('--on-failure', '--on-failure', [CompletionResultType]::ParameterName, 'What a failed check does: abort (as `abort` does) or hold (the canary kept at weight 0)')
            [CompletionResult]::new('--model-ready', '--model-ready', [CompletionResultType]::ParameterName, 'Count a new pod only once its model server says its model is ready, asked through the API server''s pod proxy: v2 (GET /v2/models/MODEL/ready), openai (GET /v1/models lists MODEL) or http:PATH (GET PATH answers 2xx)')
            [CompletionResult]::new('--model-name', '--model-name', [CompletionResultType]::ParameterName, 'The model asked about (default: the target''s name)')
            [CompletionResult]::new('--warmup', '--warmup', [CompletionResultType]::ParameterName, 'Send N inference requests to each new pod once its model is ready; the pod counts when all succeed')
            [CompletionResult]::new('--warmup-body', '--warmup-body', [CompletionResultType]::ParameterName, 'JSON body of the warm-up requests (default: a minimal request of the protocol)')
            [CompletionResult]::new('--model-ready-timeout', '--model-ready-timeout', [CompletionResultType]::ParameterName, 'How long a new pod may take to be model-ready before the command fails')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the change to complete')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the objects that would be written and write nothing')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of --dry-run')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of --dry-run')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('--contexts', '--contexts', [CompletionResultType]::ParameterName, 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column')
            [CompletionResult]::new('--wave-size', '--wave-size', [CompletionResultType]::ParameterName, 'With --contexts: how many contexts a wave changes at once')
            [CompletionResult]::new('--bake', '--bake', [CompletionResultType]::ParameterName, 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The kubeconfig cluster to use')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The kubeconfig user to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Return once the change is accepted, without waiting')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-modelroll;shift' {
            [CompletionResult]::new('--weight', '--weight', [CompletionResultType]::ParameterName, 'Traffic weight (0-100) for the canary')
            [CompletionResult]::new('--steps', '--steps', [CompletionResultType]::ParameterName, 'Increasing weights to step through, e.g. 10,25,50,100')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'Time to hold each step but the last (all with checks)')
            [CompletionResult]::new('--check', '--check', [CompletionResultType]::ParameterName, 'Metric check ''QUERY OP THRESHOLD'' (repeatable): PromQL returning one number, OP one of <, <=, >, >=; placeholders {{namespace}} {{name}} {{canary}} {{stable}} {{interval}}')
            [CompletionResult]::new('--check-file', '--check-file', [CompletionResultType]::ParameterName, 'Read checks from YAML: `checks: [{name, query, op, threshold}]`')
            [CompletionResult]::new('--prometheus', '--prometheus', [CompletionResultType]::ParameterName, 'Prometheus: http(s)://HOST:PORT[/PATH], or NAMESPACE/SERVICE:PORT through the API server''s service proxy (else $MODELROLL_PROMETHEUS)')
            [CompletionResult]::new('--failure-limit', '--failure-limit', [CompletionResultType]::ParameterName, 'Failed evaluations tolerated before the checks fail')
            [CompletionResult]::new('--on-failure', '--on-failure', [CompletionResultType]::ParameterName, 'What a failed check does: abort (as `abort` does) or hold (the canary kept at weight 0)')
            [CompletionResult]::new('--model-ready', '--model-ready', [CompletionResultType]::ParameterName, 'Count a new pod only once its model server says its model is ready, asked through the API server''s pod proxy: v2 (GET /v2/models/MODEL/ready), openai (GET /v1/models lists MODEL) or http:PATH (GET PATH answers 2xx)')
            [CompletionResult]::new('--model-name', '--model-name', [CompletionResultType]::ParameterName, 'The model asked about (default: the target''s name)')
            [CompletionResult]::new('--warmup', '--warmup', [CompletionResultType]::ParameterName, 'Send N inference requests to each new pod once its model is ready; the pod counts when all succeed')
            [CompletionResult]::new('--warmup-body', '--warmup-body', [CompletionResultType]::ParameterName, 'JSON body of the warm-up requests (default: a minimal request of the protocol)')
            [CompletionResult]::new('--model-ready-timeout', '--model-ready-timeout', [CompletionResultType]::ParameterName, 'How long a new pod may take to be model-ready before the command fails')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the change to complete')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the objects that would be written and write nothing')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of --dry-run')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of --dry-run')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('--contexts', '--contexts', [CompletionResultType]::ParameterName, 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column')
            [CompletionResult]::new('--wave-size', '--wave-size', [CompletionResultType]::ParameterName, 'With --contexts: how many contexts a wave changes at once')
            [CompletionResult]::new('--bake', '--bake', [CompletionResultType]::ParameterName, 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The kubeconfig cluster to use')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The kubeconfig user to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Return once the change is accepted, without waiting')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-modelroll;promote' {
            [CompletionResult]::new('--model-ready', '--model-ready', [CompletionResultType]::ParameterName, 'Count a new pod only once its model server says its model is ready, asked through the API server''s pod proxy: v2 (GET /v2/models/MODEL/ready), openai (GET /v1/models lists MODEL) or http:PATH (GET PATH answers 2xx)')
            [CompletionResult]::new('--model-name', '--model-name', [CompletionResultType]::ParameterName, 'The model asked about (default: the target''s name)')
            [CompletionResult]::new('--warmup', '--warmup', [CompletionResultType]::ParameterName, 'Send N inference requests to each new pod once its model is ready; the pod counts when all succeed')
            [CompletionResult]::new('--warmup-body', '--warmup-body', [CompletionResultType]::ParameterName, 'JSON body of the warm-up requests (default: a minimal request of the protocol)')
            [CompletionResult]::new('--model-ready-timeout', '--model-ready-timeout', [CompletionResultType]::ParameterName, 'How long a new pod may take to be model-ready before the command fails')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the change to complete')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the objects that would be written and write nothing')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of --dry-run')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of --dry-run')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('--contexts', '--contexts', [CompletionResultType]::ParameterName, 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column')
            [CompletionResult]::new('--wave-size', '--wave-size', [CompletionResultType]::ParameterName, 'With --contexts: how many contexts a wave changes at once')
            [CompletionResult]::new('--bake', '--bake', [CompletionResultType]::ParameterName, 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The kubeconfig cluster to use')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The kubeconfig user to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Return once the change is accepted, without waiting')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-modelroll;abort' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the change to complete')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the objects that would be written and write nothing')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format of --dry-run')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format of --dry-run')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('--contexts', '--contexts', [CompletionResultType]::ParameterName, 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column')
            [CompletionResult]::new('--wave-size', '--wave-size', [CompletionResultType]::ParameterName, 'With --contexts: how many contexts a wave changes at once')
            [CompletionResult]::new('--bake', '--bake', [CompletionResultType]::ParameterName, 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The kubeconfig cluster to use')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The kubeconfig user to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Return once the change is accepted, without waiting')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-modelroll;completion' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('--contexts', '--contexts', [CompletionResultType]::ParameterName, 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column')
            [CompletionResult]::new('--wave-size', '--wave-size', [CompletionResultType]::ParameterName, 'With --contexts: how many contexts a wave changes at once')
            [CompletionResult]::new('--bake', '--bake', [CompletionResultType]::ParameterName, 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The kubeconfig cluster to use')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The kubeconfig user to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)')
            [CompletionResult]::new('--install', '--install', [CompletionResultType]::ParameterName, 'With kubectl-plugin: write kubectl_complete-modelroll, executable, next to this kubectl-modelroll on PATH (where kubectl looks for it)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-modelroll;playground' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Port on 127.0.0.1 (0 picks a free one)')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port on 127.0.0.1 (0 picks a free one)')
            [CompletionResult]::new('--kubeconfig-out', '--kubeconfig-out', [CompletionResultType]::ParameterName, 'Where to write the playground''s kubeconfig')
            [CompletionResult]::new('--nodes', '--nodes', [CompletionResultType]::ParameterName, 'Number of simulated nodes')
            [CompletionResult]::new('--gpus-per-node', '--gpus-per-node', [CompletionResultType]::ParameterName, 'nvidia.com/gpu allocatable on each node')
            [CompletionResult]::new('--ready-after', '--ready-after', [CompletionResultType]::ParameterName, 'How long a pod takes to become ready (per pod, annotation playground.modelroll.io/ready-after overrides it)')
            [CompletionResult]::new('--crds', '--crds', [CompletionResultType]::ParameterName, 'Load CustomResourceDefinition files from this directory (recursively) at start')
            [CompletionResult]::new('--with', '--with', [CompletionResultType]::ParameterName, 'Register compact built-in CRDs for these groups: istio, gateway-api, knative')
            [CompletionResult]::new('--faults', '--faults', [CompletionResultType]::ParameterName, 'Faults for reliability tests, e.g. latency=50ms,429=0.1,500=0.05,watch-close=30s,409=0.1')
            [CompletionResult]::new('--token-auth-file', '--token-auth-file', [CompletionResultType]::ParameterName, 'Users authorized by RBAC: CSV lines token,user,uid,"group1,group2" as kube-apiserver''s --token-auth-file')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('--contexts', '--contexts', [CompletionResultType]::ParameterName, 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column')
            [CompletionResult]::new('--wave-size', '--wave-size', [CompletionResultType]::ParameterName, 'With --contexts: how many contexts a wave changes at once')
            [CompletionResult]::new('--bake', '--bake', [CompletionResultType]::ParameterName, 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The kubeconfig cluster to use')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The kubeconfig user to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-modelroll;demo' {
            [CompletionResult]::new('--router', '--router', [CompletionResultType]::ParameterName, 'Router for the canary acts')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('--contexts', '--contexts', [CompletionResultType]::ParameterName, 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column')
            [CompletionResult]::new('--wave-size', '--wave-size', [CompletionResultType]::ParameterName, 'With --contexts: how many contexts a wave changes at once')
            [CompletionResult]::new('--bake', '--bake', [CompletionResultType]::ParameterName, 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The kubeconfig cluster to use')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The kubeconfig user to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-modelroll;version' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('--contexts', '--contexts', [CompletionResultType]::ParameterName, 'Run the command against each of these kubeconfig contexts (`C1,C2,…`, or `all`): writes go in waves in the order given, reads print one table with a CONTEXT column')
            [CompletionResult]::new('--wave-size', '--wave-size', [CompletionResultType]::ParameterName, 'With --contexts: how many contexts a wave changes at once')
            [CompletionResult]::new('--bake', '--bake', [CompletionResultType]::ParameterName, 'With --contexts: after each wave, watch every context changed so far this long; a degraded one fails the wave')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The kubeconfig cluster to use')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'The kubeconfig user to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace (else the context''s namespace, else `default`)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log to stderr; repeat (-vv) to show each API request')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Never prompt; take the offered choice')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-modelroll;help' {
            [CompletionResult]::new('set-image', 'set-image', [CompletionResultType]::ParameterValue, 'Rolling update of the model''s image(s); waits and shows progress')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'One screen: tracks, revisions, images, model versions, ready pods, traffic, phase, problems')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Every model under modelroll''s care in the namespace')
            [CompletionResult]::new('history', 'history', [CompletionResultType]::ParameterValue, 'Revisions: number, image(s), model version, change cause, age')
            [CompletionResult]::new('undo', 'undo', [CompletionResultType]::ParameterValue, 'Roll back to the previous (or a given) revision; waits and shows progress')
            [CompletionResult]::new('canary', 'canary', [CompletionResultType]::ParameterValue, 'Start a canary of a new model version')
            [CompletionResult]::new('shift', 'shift', [CompletionResultType]::ParameterValue, 'Move traffic to the canary, at once or in steps')
            [CompletionResult]::new('promote', 'promote', [CompletionResultType]::ParameterValue, 'Make the canary the new stable and clean up')
            [CompletionResult]::new('abort', 'abort', [CompletionResultType]::ParameterValue, 'Send all traffic back to stable and remove the canary')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('playground', 'playground', [CompletionResultType]::ParameterValue, 'Serve a simulated Kubernetes cluster on loopback')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Run the whole lifecycle on an in-process playground and narrate it')
            [CompletionResult]::new('version', 'version', [CompletionResultType]::ParameterValue, 'Print version, git commit and build target')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'kubectl-modelroll;help;set-image' {
            break
        }
        'kubectl-modelroll;help;status' {
            break
        }
        'kubectl-modelroll;help;list' {
            break
        }
        'kubectl-modelroll;help;history' {
            break
        }
        'kubectl-modelroll;help;undo' {
            break
        }
        'kubectl-modelroll;help;canary' {
            break
        }
        'kubectl-modelroll;help;shift' {
            break
        }
        'kubectl-modelroll;help;promote' {
            break
        }
        'kubectl-modelroll;help;abort' {
            break
        }
        'kubectl-modelroll;help;completion' {
            break
        }
        'kubectl-modelroll;help;playground' {
            break
        }
        'kubectl-modelroll;help;demo' {
            break
        }
        'kubectl-modelroll;help;version' {
            break
        }
        'kubectl-modelroll;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
