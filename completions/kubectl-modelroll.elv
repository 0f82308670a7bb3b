
use builtin;
use str;

set edit:completion:arg-completer[kubectl-modelroll] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'kubectl-modelroll'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'kubectl-modelroll'= {
            cand --kubeconfig 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)'
            cand --context 'The kubeconfig context to use'
            cand --cluster 'The kubeconfig cluster to use'
            cand --user 'The kubeconfig user to use'
            cand -n 'Namespace (else the context''s namespace, else `default`)'
            cand --namespace 'Namespace (else the context''s namespace, else `default`)'
            cand --request-timeout 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)'
            cand -v 'Log to stderr; repeat (-vv) to show each API request'
            cand --verbose 'Log to stderr; repeat (-vv) to show each API request'
            cand --no-color 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
            cand -y 'Never prompt; take the offered choice'
            cand --yes 'Never prompt; take the offered choice'
            cand -h 'Print help'
            cand --help 'Print help'
            cand set-image 'Rolling update of the model''s image(s); waits and shows progress'
            cand status 'One screen: tracks, revisions, images, model versions, ready pods, traffic, phase, problems'
            cand list 'Every model under modelroll''s care in the namespace'
            cand history 'Revisions: number, image(s), model version, change cause, age'
            cand undo 'Roll back to the previous (or a given) revision; waits and shows progress'
            cand canary 'Start a canary of a new model version'
            cand shift 'Move traffic to the canary, at once or in steps'
            cand promote 'Make the canary the new stable and clean up'
            cand abort 'Send all traffic back to stable and remove the canary'
            cand completion 'Print a shell completion script'
            cand playground 'Serve a simulated Kubernetes cluster on loopback'
            cand demo 'Run the whole lifecycle on an in-process playground and narrate it'
            cand version 'Print version, git commit and build target'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'kubectl-modelroll;set-image'= {
            cand --max-surge 'maxSurge of the RollingUpdate strategy (N or P%), written in the same update'
            cand --max-unavailable 'maxUnavailable of the RollingUpdate strategy (N or P%), written in the same update'
            cand --model-version 'Model version, set as pod template label modelroll.io/model-version'
            cand --unschedulable-timeout 'Fail when a new pod stays Unschedulable this long'
            cand --timeout 'How long to wait for the change to complete'
            cand --dry-run 'Print the objects that would be written and write nothing'
            cand -o 'Output format of --dry-run'
            cand --output 'Output format of --dry-run'
            cand --kubeconfig 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)'
            cand --context 'The kubeconfig context to use'
            cand --cluster 'The kubeconfig cluster to use'
            cand --user 'The kubeconfig user to use'
            cand -n 'Namespace (else the context''s namespace, else `default`)'
            cand --namespace 'Namespace (else the context''s namespace, else `default`)'
            cand --request-timeout 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)'
            cand --rollback-on-failure 'On failure or timeout, undo to the previous revision and wait for it'
            cand --no-wait 'Return once the change is accepted, without waiting'
            cand -v 'Log to stderr; repeat (-vv) to show each API request'
            cand --verbose 'Log to stderr; repeat (-vv) to show each API request'
            cand --no-color 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
            cand -y 'Never prompt; take the offered choice'
            cand --yes 'Never prompt; take the offered choice'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'kubectl-modelroll;status'= {
            cand -o 'Output format'
            cand --output 'Output format'
            cand --kubeconfig 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)'
            cand --context 'The kubeconfig context to use'
            cand --cluster 'The kubeconfig cluster to use'
            cand --user 'The kubeconfig user to use'
            cand -n 'Namespace (else the context''s namespace, else `default`)'
            cand --namespace 'Namespace (else the context''s namespace, else `default`)'
            cand --request-timeout 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)'
            cand -w 'Redraw on every change until interrupted'
            cand --watch 'Redraw on every change until interrupted'
            cand -v 'Log to stderr; repeat (-vv) to show each API request'
            cand --verbose 'Log to stderr; repeat (-vv) to show each API request'
            cand --no-color 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
            cand -y 'Never prompt; take the offered choice'
            cand --yes 'Never prompt; take the offered choice'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'kubectl-modelroll;list'= {
            cand -o 'Output format'
            cand --output 'Output format'
            cand --kubeconfig 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)'
            cand --context 'The kubeconfig context to use'
            cand --cluster 'The kubeconfig cluster to use'
            cand --user 'The kubeconfig user to use'
            cand -n 'Namespace (else the context''s namespace, else `default`)'
            cand --namespace 'Namespace (else the context''s namespace, else `default`)'
            cand --request-timeout 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)'
            cand -A 'List across all namespaces'
            cand --all-namespaces 'List across all namespaces'
            cand -v 'Log to stderr; repeat (-vv) to show each API request'
            cand --verbose 'Log to stderr; repeat (-vv) to show each API request'
            cand --no-color 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
            cand -y 'Never prompt; take the offered choice'
            cand --yes 'Never prompt; take the offered choice'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'kubectl-modelroll;history'= {
            cand -o 'Output format'
            cand --output 'Output format'
            cand --kubeconfig 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)'
            cand --context 'The kubeconfig context to use'
            cand --cluster 'The kubeconfig cluster to use'
            cand --user 'The kubeconfig user to use'
            cand -n 'Namespace (else the context''s namespace, else `default`)'
            cand --namespace 'Namespace (else the context''s namespace, else `default`)'
            cand --request-timeout 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)'
            cand -v 'Log to stderr; repeat (-vv) to show each API request'
            cand --verbose 'Log to stderr; repeat (-vv) to show each API request'
            cand --no-color 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
            cand -y 'Never prompt; take the offered choice'
            cand --yes 'Never prompt; take the offered choice'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'kubectl-modelroll;undo'= {
            cand --to-revision 'Revision to roll back to (default: the previous one)'
            cand --timeout 'How long to wait for the change to complete'
            cand --dry-run 'Print the objects that would be written and write nothing'
            cand -o 'Output format of --dry-run'
            cand --output 'Output format of --dry-run'
            cand --kubeconfig 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)'
            cand --context 'The kubeconfig context to use'
            cand --cluster 'The kubeconfig cluster to use'
            cand --user 'The kubeconfig user to use'
            cand -n 'Namespace (else the context''s namespace, else `default`)'
            cand --namespace 'Namespace (else the context''s namespace, else `default`)'
            cand --request-timeout 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)'
            cand --no-wait 'Return once the change is accepted, without waiting'
            cand -v 'Log to stderr; repeat (-vv) to show each API request'
            cand --verbose 'Log to stderr; repeat (-vv) to show each API request'
            cand --no-color 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
            cand -y 'Never prompt; take the offered choice'
            cand --yes 'Never prompt; take the offered choice'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'kubectl-modelroll;canary'= {
            cand --image 'Image of the canary: IMAGE or CONTAINER=IMAGE'
            cand --weight 'Traffic weight (0-100) given to the canary once it is ready'
            cand --router 'How traffic is split between stable and canary'
            cand --route 'An existing VirtualService or HTTPRoute to manage'
            cand --model-version 'Model version of the canary (pod template label modelroll.io/model-version)'
            cand --container 'Container whose image the canary changes'
            cand --timeout 'How long to wait for the change to complete'
            cand --dry-run 'Print the objects that would be written and write nothing'
            cand -o 'Output format of --dry-run'
            cand --output 'Output format of --dry-run'
            cand --kubeconfig 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)'
            cand --context 'The kubeconfig context to use'
            cand --cluster 'The kubeconfig cluster to use'
            cand --user 'The kubeconfig user to use'
            cand -n 'Namespace (else the context''s namespace, else `default`)'
            cand --namespace 'Namespace (else the context''s namespace, else `default`)'
            cand --request-timeout 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)'
            cand --no-wait 'Return once the change is accepted, without waiting'
            cand -v 'Log to stderr; repeat (-vv) to show each API request'
            cand --verbose 'Log to stderr; repeat (-vv) to show each API request'
            cand --no-color 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
            cand -y 'Never prompt; take the offered choice'
            cand --yes 'Never prompt; take the offered choice'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'kubectl-modelroll;shift'= {
            cand --weight 'Traffic weight (0-100) for the canary'
            cand --steps 'Increasing weights to step through, e.g. 10,25,50,100'
            cand --interval 'Time to hold each step but the last while watching the canary'
            cand --timeout 'How long to wait for the change to complete'
            cand --dry-run 'Print the objects that would be written and write nothing'
            cand -o 'Output format of --dry-run'
            cand --output 'Output format of --dry-run'
            cand --kubeconfig 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)'
            cand --context 'The kubeconfig context to use'
            cand --cluster 'The kubeconfig cluster to use'
            cand --user 'The kubeconfig user to use'
            cand -n 'Namespace (else the context''s namespace, else `default`)'
            cand --namespace 'Namespace (else the context''s namespace, else `default`)'
            cand --request-timeout 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)'
            cand --no-wait 'Return once the change is accepted, without waiting'
            cand -v 'Log to stderr; repeat (-vv) to show each API request'
            cand --verbose 'Log to stderr; repeat (-vv) to show each API request'
            cand --no-color 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
            cand -y 'Never prompt; take the offered choice'
            cand --yes 'Never prompt; take the offered choice'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'kubectl-modelroll;promote'= {
            cand --timeout 'How long to wait for the change to complete'
            cand --dry-run 'Print the objects that would be written and write nothing'
            cand -o 'Output format of --dry-run'
            cand --output 'Output format of --dry-run'
            cand --kubeconfig 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)'
            cand --context 'The kubeconfig context to use'
            cand --cluster 'The kubeconfig cluster to use'
            cand --user 'The kubeconfig user to use'
            cand -n 'Namespace (else the context''s namespace, else `default`)'
            cand --namespace 'Namespace (else the context''s namespace, else `default`)'
            cand --request-timeout 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)'
            cand --no-wait 'Return once the change is accepted, without waiting'
            cand -v 'Log to stderr; repeat (-vv) to show each API request'
            cand --verbose 'Log to stderr; repeat (-vv) to show each API request'
            cand --no-color 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
            cand -y 'Never prompt; take the offered choice'
            cand --yes 'Never prompt; take the offered choice'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'kubectl-modelroll;abort'= {
            cand --timeout 'How long to wait for the change to complete'
            cand --dry-run 'Print the objects that would be written and write nothing'
            cand -o 'Output format of --dry-run'
            cand --output 'Output format of --dry-run'
            cand --kubeconfig 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)'
            cand --context 'The kubeconfig context to use'
            cand --cluster 'The kubeconfig cluster to use'
            cand --user 'The kubeconfig user to use'
            cand -n 'Namespace (else the context''s namespace, else `default`)'
            cand --namespace 'Namespace (else the context''s namespace, else `default`)'
            cand --request-timeout 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)'
            cand --no-wait 'Return once the change is accepted, without waiting'
            cand -v 'Log to stderr; repeat (-vv) to show each API request'
            cand --verbose 'Log to stderr; repeat (-vv) to show each API request'
            cand --no-color 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
            cand -y 'Never prompt; take the offered choice'
            cand --yes 'Never prompt; take the offered choice'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'kubectl-modelroll;completion'= {
            cand --kubeconfig 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)'
            cand --context 'The kubeconfig context to use'
            cand --cluster 'The kubeconfig cluster to use'
            cand --user 'The kubeconfig user to use'
            cand -n 'Namespace (else the context''s namespace, else `default`)'
            cand --namespace 'Namespace (else the context''s namespace, else `default`)'
            cand --request-timeout 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)'
            cand -v 'Log to stderr; repeat (-vv) to show each API request'
            cand --verbose 'Log to stderr; repeat (-vv) to show each API request'
            cand --no-color 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
            cand -y 'Never prompt; take the offered choice'
            cand --yes 'Never prompt; take the offered choice'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'kubectl-modelroll;playground'= {
            cand -p 'Port on 127.0.0.1 (0 picks a free one)'
            cand --port 'Port on 127.0.0.1 (0 picks a free one)'
            cand --kubeconfig-out 'Where to write the playground''s kubeconfig'
            cand --nodes 'Number of simulated nodes'
            cand --gpus-per-node 'nvidia.com/gpu allocatable on each node'
            cand --ready-after 'How long a pod takes to become ready (per pod, annotation playground.modelroll.io/ready-after overrides it)'
            cand --crds 'Load CustomResourceDefinition files from this directory (recursively) at start'
            cand --with 'Register compact built-in CRDs for these groups: istio, gateway-api, knative'
            cand --faults 'Faults for reliability tests, e.g. latency=50ms,429=0.1,500=0.05,watch-close=30s,409=0.1'
            cand --token-auth-file 'Users authorized by RBAC: CSV lines token,user,uid,"group1,group2" as kube-apiserver''s --token-auth-file'
            cand --kubeconfig 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)'
            cand --context 'The kubeconfig context to use'
            cand --cluster 'The kubeconfig cluster to use'
            cand --user 'The kubeconfig user to use'
            cand -n 'Namespace (else the context''s namespace, else `default`)'
            cand --namespace 'Namespace (else the context''s namespace, else `default`)'
            cand --request-timeout 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)'
            cand -v 'Log to stderr; repeat (-vv) to show each API request'
            cand --verbose 'Log to stderr; repeat (-vv) to show each API request'
            cand --no-color 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
            cand -y 'Never prompt; take the offered choice'
            cand --yes 'Never prompt; take the offered choice'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'kubectl-modelroll;demo'= {
            cand --router 'Router for the canary acts'
            cand --kubeconfig 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)'
            cand --context 'The kubeconfig context to use'
            cand --cluster 'The kubeconfig cluster to use'
            cand --user 'The kubeconfig user to use'
            cand -n 'Namespace (else the context''s namespace, else `default`)'
            cand --namespace 'Namespace (else the context''s namespace, else `default`)'
            cand --request-timeout 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)'
            cand -v 'Log to stderr; repeat (-vv) to show each API request'
            cand --verbose 'Log to stderr; repeat (-vv) to show each API request'
            cand --no-color 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
            cand -y 'Never prompt; take the offered choice'
            cand --yes 'Never prompt; take the offered choice'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'kubectl-modelroll;version'= {
            cand -o 'Output format'
            cand --output 'Output format'
            cand --kubeconfig 'Path to the kubeconfig file (else $KUBECONFIG, else ~/.kube/config, else in-cluster)'
            cand --context 'The kubeconfig context to use'
            cand --cluster 'The kubeconfig cluster to use'
            cand --user 'The kubeconfig user to use'
            cand -n 'Namespace (else the context''s namespace, else `default`)'
            cand --namespace 'Namespace (else the context''s namespace, else `default`)'
            cand --request-timeout 'Timeout of a single API request, kubectl''s format (`30s`, `1m`, `0` = none)'
            cand -v 'Log to stderr; repeat (-vv) to show each API request'
            cand --verbose 'Log to stderr; repeat (-vv) to show each API request'
            cand --no-color 'No ANSI colour (also off when NO_COLOR is set or the stream is not a terminal)'
            cand -y 'Never prompt; take the offered choice'
            cand --yes 'Never prompt; take the offered choice'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'kubectl-modelroll;help'= {
            cand set-image 'Rolling update of the model''s image(s); waits and shows progress'
            cand status 'One screen: tracks, revisions, images, model versions, ready pods, traffic, phase, problems'
            cand list 'Every model under modelroll''s care in the namespace'
            cand history 'Revisions: number, image(s), model version, change cause, age'
            cand undo 'Roll back to the previous (or a given) revision; waits and shows progress'
            cand canary 'Start a canary of a new model version'
            cand shift 'Move traffic to the canary, at once or in steps'
            cand promote 'Make the canary the new stable and clean up'
            cand abort 'Send all traffic back to stable and remove the canary'
            cand completion 'Print a shell completion script'
            cand playground 'Serve a simulated Kubernetes cluster on loopback'
            cand demo 'Run the whole lifecycle on an in-process playground and narrate it'
            cand version 'Print version, git commit and build target'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'kubectl-modelroll;help;set-image'= {
        }
        &'kubectl-modelroll;help;status'= {
        }
        &'kubectl-modelroll;help;list'= {
        }
        &'kubectl-modelroll;help;history'= {
        }
        &'kubectl-modelroll;help;undo'= {
        }
        &'kubectl-modelroll;help;canary'= {
        }
        &'kubectl-modelroll;help;shift'= {
        }
        &'kubectl-modelroll;help;promote'= {
        }
        &'kubectl-modelroll;help;abort'= {
        }
        &'kubectl-modelroll;help;completion'= {
        }
        &'kubectl-modelroll;help;playground'= {
        }
        &'kubectl-modelroll;help;demo'= {
        }
        &'kubectl-modelroll;help;version'= {
        }
        &'kubectl-modelroll;help;help'= {
        }
    ]
    $completions[$command]
}
