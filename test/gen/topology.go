package gen

import (
	"fmt"
	"strings"
)

const (
	kubeVersion = "v1.29.2"
	kubeCommit  = "4b8e819"
	oldVersion  = "v1.28.6"
	oldCommit   = "be3af46"
)

func clientUA(bin, version, commit string) string {
	return bin + "/" + version + " (linux/amd64) kubernetes/" + commit
}

// Actor classes, used for the traffic-mix statistics.
const (
	classAPIServer uint8 = iota
	classControllerManager
	classScheduler
	classKubelet
	classKubeSystem
	classOperator
	classWorkload
	classHuman
	classCI
	classAnonymous
	classHarvest
	classDecoy
	numClasses
)

// ClassNames names the actor classes reported by Stats, in table order.
var ClassNames = [numClasses]string{
	classAPIServer:         "apiserver-loopback",
	classControllerManager: "kube-controller-manager",
	classScheduler:         "kube-scheduler",
	classKubelet:           "kubelet",
	classKubeSystem:        "kube-system-daemons",
	classOperator:          "operators",
	classWorkload:          "workloads",
	classHuman:             "humans-kubectl",
	classCI:                "ci-helm",
	classAnonymous:         "anonymous-probes",
	classHarvest:           "planted-harvests",
	classDecoy:             "benign-decoys",
}

// Secret types.
const (
	stOpaque    = "Opaque"
	stTLS       = "kubernetes.io/tls"
	stDocker    = "kubernetes.io/dockerconfigjson"
	stSAToken   = "kubernetes.io/service-account-token"
	stHelm      = "helm.sh/release.v1"
	stBootstrap = "bootstrap.kubernetes.io/token"
)

type secret struct {
	ns, name, typ string
	uid           string
	rv            int64
	created       int64 // unix micros
	keys          []string
	applied       bool // created by kubectl apply (carries last-applied-configuration)
}

type namespace struct {
	name    string
	secrets []*secret
	cms     []string // configmap names
	pods    []string
	apps    []string
}

type node struct {
	name, ip, ip6 string
	uid           string
	cp            bool
	kubelet       *actor
	kubeProxy     *actor
	cilium        *actor
	fluentBit     *actor
	pods          []podRef
}

type podRef struct{ ns, name, uid, sa string }

// actor is one client fingerprint source: who, from where, with what client.
type actor struct {
	class    uint8
	user     string
	uid      string
	groups   []string
	extra    [][2]string // sorted keys, single values
	ips      []string
	ua       string
	reason   string // authorization.k8s.io/reason when allowed
	userJSON []byte
	ipsJSON  []byte
	secrets  []*secret // secrets this actor GETs in background traffic (<= 2 unless excluded)
	ns, sa   string    // service-account namespace/name
	pod      podRef
	node     *node
	legacy   bool // uses a legacy (secret-based) token
	forbidP  float64
	imperson *actor // user impersonated via --as, if any
	leases   []string
}

func (a *actor) finish() {
	b := []byte(`{"username":`)
	b = appendStr(b, a.user)
	if a.uid != "" {
		b = append(b, `,"uid":`...)
		b = appendStr(b, a.uid)
	}
	if len(a.groups) > 0 {
		b = append(b, `,"groups":`...)
		b = appendStrList(b, a.groups)
	}
	if len(a.extra) > 0 {
		b = append(b, `,"extra":{`...)
		for i, kv := range a.extra {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendStr(b, kv[0])
			b = append(b, ":["...)
			b = appendStr(b, kv[1])
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	a.userJSON = append(b, '}')
	a.ipsJSON = appendStrList(nil, a.ips)
}

func saUser(ns, name string) string { return "system:serviceaccount:" + ns + ":" + name }

func saGroups(ns string) []string {
	return []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
}

// cluster is the simulated cluster: nodes, namespaces, secrets and every
// client that talks to the API server.
type cluster struct {
	nodes      []*node
	cpNodes    []*node
	workers    []*node
	nss        []*namespace
	nsByName   map[string]*namespace
	apiservers []*actor

	cmLeader    *actor // system:kube-controller-manager, leader (node IP)
	cmOthers    []*actor
	cmTokens    *actor   // system:kube-controller-manager tokens-controller over 127.0.0.1
	controllers []*actor // kube-system SA controllers
	sched       *actor
	schedOthers []*actor
	coredns     []*actor
	ciliumOp    *actor
	metrics     *actor

	operators map[string]*actor
	opList    []*actor
	workloads []*actor // in-cluster apps (pod IPs)
	appSG     []*actor // workloads that read secrets in background
	humans    []*actor
	humanSG   []*actor // humans that read secrets in background
	admins    []*actor // impersonating admins
	proxied   []*actor // humans behind an authenticating proxy (2 source IPs)
	localAdm  *actor   // kubernetes-admin on a control-plane node over ::1
	helmCI    *actor   // gitlab-runner running helm
	kubectlCI *actor
	anon      []*actor
	lbProbe   *actor
	nextPodIP map[int]int
	usedIPs   map[string]bool
}

func (c *cluster) ns(name string) *namespace { return c.nsByName[name] }

// newPodIP hands out a fresh pod IP on the node's pod CIDR.
func (c *cluster) newPodIP(n *node) string {
	idx := nodeIndex(c, n)
	for {
		c.nextPodIP[idx]++
		ip := fmt.Sprintf("10.244.%d.%d", idx, c.nextPodIP[idx])
		if !c.usedIPs[ip] {
			c.usedIPs[ip] = true
			return ip
		}
	}
}

func nodeIndex(c *cluster, n *node) int {
	for i, x := range c.nodes {
		if x == n {
			return i
		}
	}
	return 0
}

type nsSpec struct {
	name    string
	secrets []string // name[:type]
	helm    map[string]int
	apps    []string
	cms     []string
}

var nsSpecs = []nsSpec{
	{name: "kube-system", secrets: []string{"bootstrap-token-*:b", "cilium-ca:t", "hubble-server-certs:t", "hubble-relay-client-certs:t", "kubeadm-certs", "coredns-token-*:s", "metrics-server-token-*:s", "cilium-operator-token-*:s", "etcd-backup-s3-credentials"},
		helm: map[string]int{"cilium": 3, "metrics-server": 2}, cms: []string{"kube-root-ca.crt", "coredns", "kube-proxy", "kubeadm-config", "kubelet-config", "cilium-config", "extension-apiserver-authentication"}},
	{name: "kube-public", cms: []string{"kube-root-ca.crt", "cluster-info"}},
	{name: "kube-node-lease", cms: []string{"kube-root-ca.crt"}},
	{name: "default", secrets: []string{"regcred:d", "db-password", "default-token-*:s"}, cms: []string{"kube-root-ca.crt"}},
	{name: "cert-manager", secrets: []string{"cert-manager-webhook-ca:t", "letsencrypt-prod", "letsencrypt-staging", "route53-credentials"}, helm: map[string]int{"cert-manager": 4},
		apps: []string{"cert-manager", "cert-manager-cainjector", "cert-manager-webhook"}, cms: []string{"kube-root-ca.crt", "cert-manager-webhook"}},
	{name: "argocd", secrets: []string{"argocd-secret", "argocd-initial-admin-secret", "argocd-redis", "argocd-notifications-secret", "repo-#", "repo-#", "cluster-prod-eu-1-#", "cluster-staging-#", "argocd-repo-creds-github", "argocd-server-tls:t"},
		apps: []string{"argocd-application-controller", "argocd-server", "argocd-repo-server"}, cms: []string{"kube-root-ca.crt", "argocd-cm", "argocd-rbac-cm", "argocd-cmd-params-cm", "argocd-ssh-known-hosts-cm", "argocd-tls-certs-cm"}},
	{name: "flux-system", secrets: []string{"flux-system", "sops-age", "gitlab-token", "slack-webhook-url", "receiver-token", "prod-kubeconfig"},
		apps: []string{"source-controller", "kustomize-controller", "helm-controller", "notification-controller"}, cms: []string{"kube-root-ca.crt"}},
	{name: "monitoring", secrets: []string{"grafana", "grafana-admin-credentials", "alertmanager-main", "alertmanager-main-generated", "alertmanager-main-tls-assets-0", "prometheus-k8s", "prometheus-k8s-tls-assets-0", "prometheus-k8s-web-config", "kube-prometheus-stack-admission:t", "pagerduty-routing-key", "thanos-objstore-config"},
		helm: map[string]int{"kube-prometheus-stack": 12}, apps: []string{"prometheus-operator", "grafana", "kube-state-metrics", "prometheus-k8s"}, cms: []string{"kube-root-ca.crt", "grafana-dashboards-k8s", "grafana-dashboards-nodes", "prometheus-k8s-rulefiles-0", "grafana-datasources"}},
	{name: "ingress-nginx", secrets: []string{"ingress-nginx-admission:t", "wildcard-example-com-tls:t"}, helm: map[string]int{"ingress-nginx": 7},
		apps: []string{"ingress-nginx-controller"}, cms: []string{"kube-root-ca.crt", "ingress-nginx-controller"}},
	{name: "logging", secrets: []string{"fluent-bit-es-credentials", "elasticsearch-es-elastic-user", "elasticsearch-es-http-certs-public:t", "kibana-kb-config", "opensearch-admin"},
		apps: []string{"fluent-bit"}, cms: []string{"kube-root-ca.crt", "fluent-bit-config"}},
	{name: "payments", secrets: []string{"payments-db-credentials", "payments-stripe-api-key", "payments-api-tls:t", "regcred:d", "payments-jwt-signing-key", "payments-postgresql", "payments-hsm-pin"}, helm: map[string]int{"payments": 23},
		apps: []string{"payments-api", "payments-worker"}, cms: []string{"kube-root-ca.crt", "payments-api-config", "payments-feature-flags"}},
	{name: "checkout", secrets: []string{"checkout-redis", "checkout-api-env", "regcred:d", "checkout-paypal-client", "checkout-api-tls:t"}, helm: map[string]int{"checkout": 17},
		apps: []string{"checkout-api", "checkout-cart"}, cms: []string{"kube-root-ca.crt", "checkout-api-config"}},
	{name: "frontend", secrets: []string{"frontend-tls:t", "regcred:d", "session-secret", "frontend-sentry-dsn", "recaptcha-keys"}, helm: map[string]int{"frontend": 41},
		apps: []string{"frontend", "frontend-ssr"}, cms: []string{"kube-root-ca.crt", "frontend-nginx-conf"}},
	{name: "orders", secrets: []string{"orders-postgresql", "orders-rabbitmq", "regcred:d", "aws-credentials", "orders-kafka-user", "orders-api-env"}, helm: map[string]int{"orders": 15},
		apps: []string{"orders-api", "orders-worker"}, cms: []string{"kube-root-ca.crt", "orders-api-config"}},
	{name: "data", secrets: []string{"kafka-cluster-ca-cert", "kafka-cluster-ca", "kafka-cluster-clients-ca", "kafka-cluster-clients-ca-cert", "minio-root-credentials", "pg-main-superuser", "pg-main-app", "pg-main-replication", "redis-main", "clickhouse-admin"},
		apps: []string{"strimzi-cluster-operator", "pg-operator"}, cms: []string{"kube-root-ca.crt", "kafka-cluster-kafka-config"}},
	{name: "ci", secrets: []string{"gitlab-runner", "gitlab-runner-token", "docker-config:d", "sonarqube-token", "cosign-key", "ghcr-pull:d"}, helm: map[string]int{"gitlab-runner": 3},
		apps: []string{"gitlab-runner"}, cms: []string{"kube-root-ca.crt", "gitlab-runner"}},
	{name: "security", secrets: []string{"trivy-operator-trivy-config", "vault-unseal-keys", "vault-tls:t", "vault-root-token", "falco-secrets", "external-secrets-vault-token"}, helm: map[string]int{"trivy-operator": 5, "vault": 6},
		apps: []string{"trivy-operator", "external-secrets", "vault"}, cms: []string{"kube-root-ca.crt", "trivy-operator"}},
	{name: "team-a", secrets: []string{"app-secrets", "regcred:d", "team-a-api-key", "team-a-postgresql", "ecr-pull-secret:d"}, helm: map[string]int{"team-a-app": 9},
		apps: []string{"team-a-app"}, cms: []string{"kube-root-ca.crt", "team-a-app-config"}},
	{name: "team-b", secrets: []string{"app-secrets", "regcred:d", "team-b-openai-key", "team-b-mongodb"}, helm: map[string]int{"team-b-app": 6},
		apps: []string{"team-b-app"}, cms: []string{"kube-root-ca.crt", "team-b-app-config"}},
}

var secretKeys = map[string][]string{
	stOpaque:    {"password"},
	stTLS:       {"ca.crt", "tls.crt", "tls.key"},
	stDocker:    {".dockerconfigjson"},
	stSAToken:   {"ca.crt", "namespace", "token"},
	stHelm:      {"release"},
	stBootstrap: {"auth-extra-groups", "expiration", "token-id", "token-secret", "usage-bootstrap-authentication", "usage-bootstrap-signing"},
}

var opaqueKeySets = [][]string{
	{"password"}, {"password", "username"}, {"api-key"}, {"DATABASE_URL", "REDIS_URL", "SECRET_KEY_BASE"},
	{"access-key-id", "secret-access-key"}, {"token"}, {"client-id", "client-secret"}, {"key.txt"},
	{"config.yaml"}, {"identity", "identity.pub", "known_hosts"}, {"postgres-password", "password"},
}

func newCluster(r *rng, start int64) *cluster {
	c := &cluster{nsByName: map[string]*namespace{}, operators: map[string]*actor{}, nextPodIP: map[int]int{}, usedIPs: map[string]bool{}}

	// Nodes: 3 control-plane nodes, 12 workers; two workers still on 1.28
	// mid-upgrade.
	for i := 1; i <= 15; i++ {
		n := &node{uid: r.uuid()}
		if i <= 3 {
			n.name = fmt.Sprintf("cp-%d", i)
			n.ip = fmt.Sprintf("10.0.0.%d", 9+i)
			n.cp = true
		} else {
			n.name = fmt.Sprintf("node-%d", i-3)
			n.ip = fmt.Sprintf("10.0.1.%d", 10+i)
		}
		n.ip6 = fmt.Sprintf("fd00:10:0:1::%x", 0x10+i)
		ver, commit := kubeVersion, kubeCommit
		if i == 14 || i == 15 {
			ver, commit = oldVersion, oldCommit
		}
		n.kubelet = &actor{class: classKubelet, user: "system:node:" + n.name, groups: []string{"system:nodes", "system:authenticated"},
			ips: []string{n.ip}, ua: clientUA("kubelet", ver, commit), node: n}
		n.kubelet.finish()
		n.kubeProxy = &actor{class: classKubeSystem, user: saUser("kube-system", "kube-proxy"), uid: "", groups: saGroups("kube-system"),
			ips: []string{n.ip}, ua: clientUA("kube-proxy", ver, commit), node: n, ns: "kube-system", sa: "kube-proxy",
			reason: `RBAC: allowed by ClusterRoleBinding "kubeadm:node-proxier" of ClusterRole "system:node-proxier" to ServiceAccount "kube-proxy/kube-system"`}
		c.nodes = append(c.nodes, n)
		if n.cp {
			c.cpNodes = append(c.cpNodes, n)
		} else {
			c.workers = append(c.workers, n)
		}
	}
	kpUID := r.uuid()
	ciliumUID := r.uuid()
	for _, n := range c.nodes {
		n.kubeProxy.uid = kpUID
		n.kubeProxy.finish()
		podName := "cilium-" + r.kubeSuffix(5)
		n.cilium = &actor{class: classKubeSystem, user: saUser("kube-system", "cilium"), uid: ciliumUID, groups: saGroups("kube-system"),
			extra: [][2]string{{"authentication.kubernetes.io/pod-name", podName}, {"authentication.kubernetes.io/pod-uid", r.uuid()}},
			ips:   []string{n.ip}, ua: "cilium-agent/1.15.1 (linux/amd64) kubernetes/$Format", node: n, ns: "kube-system", sa: "cilium",
			reason: `RBAC: allowed by ClusterRoleBinding "cilium" of ClusterRole "cilium" to ServiceAccount "cilium/kube-system"`}
		n.cilium.finish()
	}

	// Namespaces and their secrets.
	for _, sp := range nsSpecs {
		ns := &namespace{name: sp.name, cms: sp.cms, apps: sp.apps}
		for _, s := range sp.secrets {
			name, typ := s, stOpaque
			if i := strings.IndexByte(s, ':'); i >= 0 {
				name = s[:i]
				switch s[i+1:] {
				case "t":
					typ = stTLS
				case "d":
					typ = stDocker
				case "s":
					typ = stSAToken
				case "b":
					typ = stBootstrap
				}
			}
			switch {
			case strings.HasSuffix(name, "-*") && typ == stBootstrap:
				name = name[:len(name)-1] + r.lowerAlnum(6)
			case strings.HasSuffix(name, "-*"):
				name = name[:len(name)-1] + r.kubeSuffix(5)
			case strings.HasSuffix(name, "-#"):
				name = name[:len(name)-1] + r.digits(10)
			}
			ns.secrets = append(ns.secrets, c.newSecret(r, sp.name, name, typ, start))
		}
		for rel, top := range sortedHelm(sp.helm) {
			_ = rel
			for v := top - 4; v <= top; v++ { // Helm keeps the last few revisions
				if v < 1 {
					continue
				}
				ns.secrets = append(ns.secrets, c.newSecret(r, sp.name, fmt.Sprintf("sh.helm.release.v1.%s.v%d", sortedHelmKeys(sp.helm)[rel], v), stHelm, start))
			}
		}
		c.nss = append(c.nss, ns)
		c.nsByName[ns.name] = ns
	}

	// Control plane.
	for i, n := range c.cpNodes {
		a := &actor{class: classAPIServer, user: "system:apiserver", uid: r.uuid(), groups: []string{"system:authenticated", "system:masters"},
			ips: []string{"::1"}, ua: clientUA("kube-apiserver", kubeVersion, kubeCommit), node: n,
			leases: []string{"apiserver-" + r.lowerAlnum(26)}}
		if i == 1 {
			a.ips = []string{"127.0.0.1"}
		}
		a.finish()
		c.apiservers = append(c.apiservers, a)
	}
	cmReason := `RBAC: allowed by ClusterRoleBinding "system:kube-controller-manager" of ClusterRole "system:kube-controller-manager" to User "system:kube-controller-manager"`
	for i, n := range c.cpNodes {
		a := &actor{class: classControllerManager, user: "system:kube-controller-manager", groups: []string{"system:authenticated"},
			ips: []string{n.ip}, ua: clientUA("kube-controller-manager", kubeVersion, kubeCommit) + "/leader-election", reason: cmReason, node: n}
		a.finish()
		if i == 0 {
			c.cmLeader = a
		} else {
			c.cmOthers = append(c.cmOthers, a)
		}
	}
	c.cmTokens = &actor{class: classControllerManager, user: "system:kube-controller-manager", groups: []string{"system:authenticated"},
		ips: []string{"127.0.0.1"}, ua: clientUA("kube-controller-manager", kubeVersion, kubeCommit) + "/tokens-controller", reason: cmReason, node: c.cpNodes[0]}
	c.cmTokens.finish()
	for _, ctl := range []string{"replicaset-controller", "deployment-controller", "endpointslice-controller", "endpoint-controller",
		"job-controller", "cronjob-controller", "generic-garbage-collector", "node-controller", "namespace-controller",
		"horizontal-pod-autoscaler", "resourcequota-controller", "root-ca-cert-publisher", "daemon-set-controller",
		"statefulset-controller", "ttl-after-finished-controller", "pod-garbage-collector", "endpointslicemirroring-controller",
		"service-account-controller", "disruption-controller", "persistent-volume-binder", "attachdetach-controller"} {
		a := &actor{class: classControllerManager, user: saUser("kube-system", ctl), uid: r.uuid(), groups: saGroups("kube-system"),
			ips: []string{c.cpNodes[0].ip}, ua: clientUA("kube-controller-manager", kubeVersion, kubeCommit) + "/" + saUser("kube-system", ctl),
			reason: fmt.Sprintf(`RBAC: allowed by ClusterRoleBinding "system:controller:%s" of ClusterRole "system:controller:%s" to ServiceAccount "%s/kube-system"`, ctl, ctl, ctl),
			ns:     "kube-system", sa: ctl, node: c.cpNodes[0]}
		a.finish()
		c.controllers = append(c.controllers, a)
	}
	schedReason := `RBAC: allowed by ClusterRoleBinding "system:kube-scheduler" of ClusterRole "system:kube-scheduler" to User "system:kube-scheduler"`
	for i, n := range c.cpNodes {
		// The scheduler's kubeconfig points at the local endpoint.
		a := &actor{class: classScheduler, user: "system:kube-scheduler", groups: []string{"system:authenticated"},
			ips: []string{"127.0.0.1"}, ua: clientUA("kube-scheduler", kubeVersion, kubeCommit) + "/scheduler", reason: schedReason, node: n}
		if i == 2 {
			a.ips = []string{n.ip}
		}
		a.finish()
		if i == 0 {
			c.sched = a
		} else {
			c.schedOthers = append(c.schedOthers, a)
		}
	}

	// kube-system pods.
	for i := 0; i < 2; i++ {
		n := c.workers[r.intn(len(c.workers))]
		a := c.podActor(r, n, classKubeSystem, "kube-system", "coredns", "coredns-76f75df574-"+r.kubeSuffix(5), "coredns/v0.0.0 (linux/amd64) kubernetes/$Format",
			`RBAC: allowed by ClusterRoleBinding "system:coredns" of ClusterRole "system:coredns" to ServiceAccount "coredns/kube-system"`)
		c.coredns = append(c.coredns, a)
	}
	c.ciliumOp = c.podActor(r, c.cpNodes[1], classKubeSystem, "kube-system", "cilium-operator", "cilium-operator-5d8b8c7d4-"+r.kubeSuffix(5), "cilium-operator-generic/1.15.1 (linux/amd64) kubernetes/$Format",
		`RBAC: allowed by ClusterRoleBinding "cilium-operator" of ClusterRole "cilium-operator" to ServiceAccount "cilium-operator/kube-system"`)
	c.ciliumOp.ips = []string{c.cpNodes[1].ip} // host network
	c.ciliumOp.finish()
	c.ciliumOp.leases = []string{"cilium-operator-resource-lock"}
	c.metrics = c.podActor(r, c.workers[0], classKubeSystem, "kube-system", "metrics-server", "metrics-server-6d94bc8694-"+r.kubeSuffix(5), "metrics-server/v0.7.0 (linux/amd64) kubernetes/$Format",
		`RBAC: allowed by ClusterRoleBinding "system:metrics-server" of ClusterRole "system:metrics-server" to ServiceAccount "metrics-server/kube-system"`)

	// Operators.
	type opSpec struct{ key, ns, sa, pod, ua, crb string }
	for _, o := range []opSpec{
		{"cert-manager", "cert-manager", "cert-manager", "cert-manager-7d8b9c5f7b-", "cert-manager-certificates-issuing/v1.14.4 (linux/amd64) cert-manager/f9f9e7d8cde29a4e3e8b7d2a1d0c7c1c0a7d2e4f", "cert-manager-controller-certificates"},
		{"cainjector", "cert-manager", "cert-manager-cainjector", "cert-manager-cainjector-5c5695d979-", "cainjector/v1.14.4 (linux/amd64) cert-manager/f9f9e7d8cde29a4e3e8b7d2a1d0c7c1c0a7d2e4f", "cert-manager-cainjector"},
		{"argocd-app", "argocd", "argocd-application-controller", "argocd-application-controller-", "argocd-application-controller/v2.10.2+fcf5d8c (linux/amd64)", "argocd-application-controller"},
		{"argocd-server", "argocd", "argocd-server", "argocd-server-7c6b6d8f5d-", "argocd-server/v2.10.2+fcf5d8c (linux/amd64)", "argocd-server"},
		{"argocd-server-2", "argocd", "argocd-server", "argocd-server-7c6b6d8f5d-", "argocd-server/v2.10.2+fcf5d8c (linux/amd64)", "argocd-server"},
		{"flux-source", "flux-system", "source-controller", "source-controller-6d5d9c6c7b-", "source-controller/v0.0.0 (linux/amd64) kubernetes/$Format", "cluster-reconciler-flux-system"},
		{"flux-kustomize", "flux-system", "kustomize-controller", "kustomize-controller-5b7d8f6c5d-", "kustomize-controller/v0.0.0 (linux/amd64) kubernetes/$Format", "cluster-reconciler-flux-system"},
		{"flux-helm", "flux-system", "helm-controller", "helm-controller-7f8d9c5b6d-", "helm-controller/v0.0.0 (linux/amd64) kubernetes/$Format", "cluster-reconciler-flux-system"},
		{"flux-notification", "flux-system", "notification-controller", "notification-controller-6b8c9d7f5c-", "notification-controller/v0.0.0 (linux/amd64) kubernetes/$Format", "crd-controller-flux-system"},
		{"prom-operator", "monitoring", "prometheus-operator", "prometheus-operator-5d9c8b7f6d-", "PrometheusOperator/0.72.0", "prometheus-operator"},
		{"ksm", "monitoring", "kube-state-metrics", "kube-state-metrics-6c9b7d8f5c-", "kube-state-metrics/v2.10.1 (linux/amd64) kubernetes/$Format", "kube-state-metrics"},
		{"prometheus", "monitoring", "prometheus-k8s", "prometheus-k8s-", "Prometheus/2.50.1", "prometheus-k8s"},
		{"ingress-nginx", "ingress-nginx", "ingress-nginx", "ingress-nginx-controller-6d5f8c7b9d-", "nginx-ingress-controller/v1.10.0 (linux/amd64) ingress-nginx/71f78d49f0a496c31d4c19f095469f3f23900f8a", "ingress-nginx"},
		{"external-secrets", "security", "external-secrets", "external-secrets-7b9d6c8f5d-", "external-secrets/v0.0.0 (linux/amd64) kubernetes/$Format", "external-secrets-controller"},
		{"trivy", "security", "trivy-operator", "trivy-operator-6c8d7f9b5c-", "trivy-operator/v0.0.0 (linux/amd64) kubernetes/$Format", "trivy-operator"},
		{"grafana-sidecar", "monitoring", "grafana", "grafana-6f8c9d7b5d-", "kiwigrid-k8s-sidecar/1.26.1", "grafana-clusterrolebinding"},
	} {
		n := c.workers[r.intn(len(c.workers))]
		pod := o.pod + r.kubeSuffix(5)
		if o.key == "prometheus" {
			pod = o.pod + "0"
		}
		a := c.podActor(r, n, classOperator, o.ns, o.sa, pod, o.ua,
			fmt.Sprintf(`RBAC: allowed by ClusterRoleBinding "%s" of ClusterRole "%s" to ServiceAccount "%s/%s"`, o.crb, o.crb, o.sa, o.ns))
		c.operators[o.key] = a
		c.opList = append(c.opList, a)
	}
	// argocd-server's two replicas share one service account.
	c.operators["argocd-server-2"].uid = c.operators["argocd-server"].uid
	c.operators["argocd-server-2"].finish()
	c.operators["cert-manager"].leases = []string{"cert-manager-controller"}
	c.operators["cainjector"].leases = []string{"cert-manager-cainjector-leader-election"}
	c.operators["flux-source"].leases = []string{"source-controller-leader-election"}
	c.operators["flux-kustomize"].leases = []string{"kustomize-controller-leader-election"}
	c.operators["flux-helm"].leases = []string{"helm-controller-leader-election"}
	c.operators["flux-notification"].leases = []string{"notification-controller-leader-election"}
	c.operators["ingress-nginx"].leases = []string{"ingress-nginx-leader"}
	c.operators["external-secrets"].leases = []string{"external-secrets-controller"}
	c.operators["trivy"].leases = []string{"trivyoperator-lock"}
	c.operators["prom-operator"].leases = []string{"prometheus-operator-lock"}
	c.operators["grafana-sidecar"].leases = nil
	// Background secret reads by operators: at most two names each.
	c.operators["cert-manager"].secrets = []*secret{c.findSecret("cert-manager", "letsencrypt-prod"), c.findSecret("cert-manager", "route53-credentials")}
	c.operators["argocd-server"].secrets = []*secret{c.findSecret("argocd", "argocd-secret")}
	c.operators["flux-source"].secrets = []*secret{c.findSecret("flux-system", "flux-system")}
	c.operators["external-secrets"].secrets = []*secret{c.findSecret("security", "external-secrets-vault-token")}
	c.operators["ingress-nginx"].secrets = []*secret{c.findSecret("ingress-nginx", "wildcard-example-com-tls")}
	c.operators["prom-operator"].secrets = []*secret{c.findSecret("monitoring", "alertmanager-main"), c.findSecret("monitoring", "prometheus-k8s")}
	c.operators["grafana-sidecar"].secrets = []*secret{c.findSecret("monitoring", "grafana-admin-credentials")}

	// Workloads.
	type appSpec struct {
		ns, app, ua string
		reads       []string
		replicas    int
		legacy      bool
	}
	for _, w := range []appSpec{
		{"payments", "payments-api", "main/v0.0.0 (linux/amd64) kubernetes/$Format", []string{"payments-db-credentials", "payments-stripe-api-key"}, 3, false},
		{"payments", "payments-worker", "main/v0.0.0 (linux/amd64) kubernetes/$Format", []string{"payments-jwt-signing-key"}, 2, false},
		{"checkout", "checkout-api", "OpenAPI-Generator/28.1.0/python", []string{"checkout-redis"}, 3, false},
		{"checkout", "checkout-cart", "OpenAPI-Generator/28.1.0/python", nil, 2, false},
		{"orders", "orders-api", "orders-api/1.14.2 (linux/amd64) kubernetes/v0.29.2", []string{"orders-postgresql", "aws-credentials"}, 2, false},
		{"orders", "orders-worker", "Go-http-client/2.0", []string{"orders-rabbitmq"}, 2, true},
		{"frontend", "frontend", "axios/1.6.7", []string{"session-secret"}, 4, false},
		{"frontend", "frontend-ssr", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", nil, 2, false},
		{"team-a", "team-a-app", "fabric8-kubernetes-client/6.10.0", []string{"app-secrets", "team-a-api-key"}, 2, false},
		{"team-b", "team-b-app", "kubernetes-client/javascript/0.20.0", []string{"app-secrets"}, 2, false},
		{"data", "strimzi-cluster-operator", "fabric8-kubernetes-client/6.9.2", []string{"kafka-cluster-ca-cert"}, 1, false},
		{"data", "pg-operator", "postgres-operator/v1.11.0 (linux/amd64) kubernetes/$Format", []string{"pg-main-superuser"}, 1, false},
		{"logging", "log-archiver", "Boto3/1.34.51 md/Botocore#1.34.51 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.12.2", []string{"elasticsearch-es-elastic-user"}, 1, true},
	} {
		uid := r.uuid()
		hash := r.kubeSuffix(10)
		for i := 0; i < w.replicas; i++ {
			n := c.workers[r.intn(len(c.workers))]
			a := c.podActor(r, n, classWorkload, w.ns, w.app, w.app+"-"+hash+"-"+r.kubeSuffix(5), w.ua,
				fmt.Sprintf(`RBAC: allowed by RoleBinding "%s/%s" of Role "%s" to ServiceAccount "%s/%s"`, w.app, w.ns, w.app, w.app, w.ns))
			a.uid = uid
			if w.legacy {
				a.legacy = true
				a.extra = nil
			}
			a.finish()
			for _, s := range w.reads {
				a.secrets = append(a.secrets, c.findSecret(w.ns, s))
			}
			a.leases = []string{w.app + "-leader"}
			c.workloads = append(c.workloads, a)
			if len(a.secrets) > 0 {
				c.appSG = append(c.appSG, a)
			}
		}
	}
	// Fluent Bit on every node.
	fbUID := r.uuid()
	for _, n := range c.nodes {
		a := c.podActor(r, n, classWorkload, "logging", "fluent-bit", "fluent-bit-"+r.kubeSuffix(5), "Fluent-Bit",
			`RBAC: allowed by ClusterRoleBinding "fluent-bit" of ClusterRole "fluent-bit-read" to ServiceAccount "fluent-bit/logging"`)
		a.uid = fbUID
		a.finish()
		n.fluentBit = a
	}

	// Humans. Office egress IPs (RFC 5737) and the VPN range.
	type humanSpec struct {
		user   string
		groups []string
		ip     string
		ua     string
		reason string
		forbid float64
		reads  [][2]string
	}
	kubectl := "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819"
	kubectlMac := "kubectl/v1.28.4 (darwin/arm64) kubernetes/bae2c62"
	for _, h := range []humanSpec{
		{"alice@example.com", []string{"oidc:platform-admins", "system:authenticated"}, "203.0.113.10", kubectl, `RBAC: allowed by ClusterRoleBinding "oidc-platform-admins" of ClusterRole "cluster-admin" to Group "oidc:platform-admins"`, 0.0, [][2]string{{"argocd", "argocd-initial-admin-secret"}}},
		{"bob@example.com", []string{"oidc:team-a", "system:authenticated"}, "203.0.113.10", kubectlMac, `RBAC: allowed by RoleBinding "team-a-developers/team-a" of ClusterRole "edit" to Group "oidc:team-a"`, 0.25, [][2]string{{"team-a", "app-secrets"}, {"payments", "payments-db-credentials"}}},
		{"carol@example.com", []string{"oidc:team-b", "system:authenticated"}, "203.0.113.11", "k9s/v0.0.0 (darwin/arm64) kubernetes/$Format", `RBAC: allowed by RoleBinding "team-b-developers/team-b" of ClusterRole "edit" to Group "oidc:team-b"`, 0.2, [][2]string{{"team-b", "team-b-mongodb"}}},
		{"dave@example.com", []string{"oidc:sre", "system:authenticated"}, "100.64.12.7", kubectl, `RBAC: allowed by ClusterRoleBinding "oidc-sre" of ClusterRole "sre-read" to Group "oidc:sre"`, 0.1, [][2]string{{"monitoring", "grafana-admin-credentials"}}},
		{"erin@example.com", []string{"oidc:payments", "system:authenticated"}, "100.64.12.31", kubectl, `RBAC: allowed by RoleBinding "payments-devs/payments" of ClusterRole "edit" to Group "oidc:payments"`, 0.3, [][2]string{{"payments", "payments-postgresql"}, {"payments", "payments-api-tls"}}},
		{"frank@example.com", []string{"oidc:data", "system:authenticated"}, "2001:db8:100::23", kubectlMac, `RBAC: allowed by RoleBinding "data-devs/data" of ClusterRole "edit" to Group "oidc:data"`, 0.15, nil},
		{"grace@example.com", []string{"oidc:auditors", "system:authenticated"}, "203.0.113.11", kubectl, `RBAC: allowed by ClusterRoleBinding "oidc-auditors" of ClusterRole "view" to Group "oidc:auditors"`, 0.4, [][2]string{{"logging", "kibana-kb-config"}}},
	} {
		a := &actor{class: classHuman, user: h.user, groups: h.groups, ips: []string{h.ip}, ua: h.ua, reason: h.reason, forbidP: h.forbid}
		a.finish()
		for _, s := range h.reads {
			a.secrets = append(a.secrets, c.findSecret(s[0], s[1]))
		}
		c.humans = append(c.humans, a)
		if len(a.secrets) > 0 {
			c.humanSG = append(c.humanSG, a)
		}
	}
	// Admins who impersonate (kubectl --as).
	for _, imp := range []int{1, 2} {
		a := &actor{class: classHuman, user: "alice@example.com", groups: []string{"oidc:platform-admins", "system:authenticated"},
			ips: []string{"203.0.113.10"}, ua: kubectl, imperson: c.humans[imp]}
		a.finish()
		c.admins = append(c.admins, a)
	}
	// Humans behind an authenticating proxy / bastion: client first, proxy last.
	for _, p := range []struct{ user, client, proxy string }{
		{"heidi@example.com", "198.51.100.40", "10.0.0.5"},
		{"ivan@example.com", "::ffff:198.51.100.41", "10.0.0.5"},
	} {
		a := &actor{class: classHuman, user: p.user, groups: []string{"oidc:sre", "system:authenticated"}, ips: []string{p.client, p.proxy}, ua: kubectl,
			reason: `RBAC: allowed by ClusterRoleBinding "oidc-sre" of ClusterRole "sre-read" to Group "oidc:sre"`, forbidP: 0.1}
		a.finish()
		c.proxied = append(c.proxied, a)
	}
	c.proxied[0].secrets = []*secret{c.findSecret("monitoring", "pagerduty-routing-key")}
	c.humanSG = append(c.humanSG, c.proxied[0])
	c.localAdm = &actor{class: classHuman, user: "kubernetes-admin", groups: []string{"system:masters", "system:authenticated"}, ips: []string{"::1"}, ua: kubectl}
	c.localAdm.finish()

	// CI: GitLab runner jobs running helm and kubectl.
	runnerNode := c.workers[r.intn(len(c.workers))]
	c.helmCI = c.podActor(r, runnerNode, classCI, "ci", "gitlab-runner", "runner-x7k2m9p4-project-42-concurrent-0-"+r.kubeSuffix(5), "Helm/3.14.2",
		`RBAC: allowed by ClusterRoleBinding "gitlab-runner-deployer" of ClusterRole "cluster-admin" to ServiceAccount "gitlab-runner/ci"`)
	c.kubectlCI = &actor{}
	*c.kubectlCI = *c.helmCI
	c.kubectlCI.ua = kubectl
	c.kubectlCI.finish()

	// Anonymous probes of /livez, /readyz.
	for _, n := range c.cpNodes {
		a := &actor{class: classAnonymous, user: "system:anonymous", groups: []string{"system:unauthenticated"}, ips: []string{n.ip}, ua: "kube-probe/1.29",
			reason: `RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole "system:public-info-viewer" to Group "system:unauthenticated"`}
		a.finish()
		c.anon = append(c.anon, a)
	}
	c.lbProbe = &actor{class: classAnonymous, user: "system:anonymous", groups: []string{"system:unauthenticated"}, ips: []string{"10.0.0.5"}, ua: "",
		reason: `RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole "system:public-info-viewer" to Group "system:unauthenticated"`}
	c.lbProbe.finish()
	return c
}

// podActor creates a service-account client running in a pod on node n.
func (c *cluster) podActor(r *rng, n *node, class uint8, ns, sa, pod, ua, reason string) *actor {
	p := podRef{ns: ns, name: pod, uid: r.uuid(), sa: sa}
	a := &actor{class: class, user: saUser(ns, sa), uid: r.uuid(), groups: saGroups(ns),
		extra: [][2]string{{"authentication.kubernetes.io/pod-name", pod}, {"authentication.kubernetes.io/pod-uid", p.uid}},
		ips:   []string{c.newPodIP(n)}, ua: ua, reason: reason, ns: ns, sa: sa, pod: p, node: n}
	a.finish()
	n.pods = append(n.pods, p)
	if nsx := c.nsByName[ns]; nsx != nil {
		nsx.pods = append(nsx.pods, pod)
	}
	return a
}

func (c *cluster) newSecret(r *rng, ns, name, typ string, start int64) *secret {
	s := &secret{ns: ns, name: name, typ: typ, uid: r.uuid(), rv: int64(r.between(1000, 90000000)),
		created: start - int64(r.between(3600, 400*86400))*1e6}
	if typ == stOpaque {
		s.keys = pick(r, opaqueKeySets)
		s.applied = r.chance(0.4)
	} else {
		s.keys = secretKeys[typ]
	}
	return s
}

func (c *cluster) findSecret(ns, name string) *secret {
	for _, s := range c.nsByName[ns].secrets {
		if s.name == name {
			return s
		}
	}
	panic("gen: unknown secret " + ns + "/" + name)
}

// sortedHelm returns helm release -> max revision keyed by index into
// sortedHelmKeys so iteration order is deterministic.
func sortedHelm(m map[string]int) []int {
	keys := sortedHelmKeys(m)
	out := make([]int, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

func sortedHelmKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
