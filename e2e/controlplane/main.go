// Command threatmesh-controlplane runs a real Kubernetes control plane for ThreatMesh's
// integration tests and local sandbox, built from the pinned k8s.io/kubernetes release:
//
//	threatmesh-controlplane pki --dir DIR
//	    writes a CA, an apiserver serving certificate (127.0.0.1, localhost), an admin client
//	    certificate (O=system:masters) and a service-account key pair under DIR/pki, once.
//	threatmesh-controlplane apiserver --dir DIR --secure-port P [-- extra kube-apiserver flags]
//	    starts an embedded etcd (data under DIR/etcd, loopback ports chosen at run time) and the
//	    real kube-apiserver against it, in this one process.
//	threatmesh-controlplane controller-manager --kubeconfig FILE [-- extra flags]
//	    runs the real kube-controller-manager with only the garbage collector and the namespace
//	    controller, so owner-reference cascades and namespace deletion complete.
//
// The apiserver and the controller manager each install process-wide signal handlers, which is
// why they run as two processes of this one binary rather than in one process.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
	_ "time/tzdata" // CronJob time zones, as upstream's main does.

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	kcm "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "pki":
		err = runPKI(os.Args[2:])
	case "apiserver":
		err = runAPIServer(os.Args[2:])
	case "controller-manager":
		err = runControllerManager(os.Args[2:])
	case "-h", "--help", "help":
		usage()
		return
	default:
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "threatmesh-controlplane %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  threatmesh-controlplane pki --dir DIR
  threatmesh-controlplane apiserver --dir DIR --secure-port PORT [--etcd-fsync] [--exit-on-stdin-eof] [-- kube-apiserver flags]
  threatmesh-controlplane controller-manager --kubeconfig FILE [--exit-on-stdin-eof] [-- kube-controller-manager flags]
`)
}

// ---- PKI ----

func runPKI(args []string) error {
	fs := flag.NewFlagSet("pki", flag.ContinueOnError)
	dir := fs.String("dir", "", "instance directory (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("--dir is required")
	}
	return ensurePKI(filepath.Join(*dir, "pki"))
}

// ensurePKI writes the instance's certificates and keys unless they already exist, so a restarted
// instance keeps the identity that its kubeconfig carries.
func ensurePKI(pki string) error {
	if _, err := os.Stat(filepath.Join(pki, "admin.key")); err == nil {
		return nil
	}
	if err := os.MkdirAll(pki, 0o700); err != nil {
		return err
	}
	caKey, caCert, err := newCA(pki)
	if err != nil {
		return err
	}
	serving := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	admin := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "threatmesh-admin", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	for name, tmpl := range map[string]*x509.Certificate{"apiserver": serving, "admin": admin} {
		if err := issue(pki, name, tmpl, caCert, caKey); err != nil {
			return err
		}
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(pki, "sa.pub"), "PUBLIC KEY", saPub); err != nil {
		return err
	}
	return writePEM(filepath.Join(pki, "sa.key"), "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey))
}

func newCA(pki string) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "threatmesh-controlplane-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	if err := writePEM(filepath.Join(pki, "ca.crt"), "CERTIFICATE", der); err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return key, cert, writePEM(filepath.Join(pki, "ca.key"), "EC PRIVATE KEY", keyDER)
}

func issue(pki, name string, tmpl, ca *x509.Certificate, caKey *ecdsa.PrivateKey) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(10 * 365 * 24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(pki, name+".crt"), "CERTIFICATE", der); err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(filepath.Join(pki, name+".key"), "EC PRIVATE KEY", keyDER)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(err)
	}
	return n
}

func writePEM(path, kind string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600)
}

// ---- etcd + kube-apiserver ----

func runAPIServer(args []string) error {
	fs := flag.NewFlagSet("apiserver", flag.ContinueOnError)
	dir := fs.String("dir", "", "instance directory: pki/ and etcd/ live here (required)")
	port := fs.Int("secure-port", 0, "kube-apiserver HTTPS port on 127.0.0.1 (required)")
	fsync := fs.Bool("etcd-fsync", false, "make etcd fsync its WAL (slower; off is fine for tests)")
	stdinEOF := fs.Bool("exit-on-stdin-eof", false, "shut down when stdin closes (the parent process died)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *stdinEOF {
		go terminateOnStdinEOF()
	}
	if *dir == "" || *port <= 0 {
		return errors.New("--dir and --secure-port are required")
	}
	pki := filepath.Join(*dir, "pki")
	if err := ensurePKI(pki); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	etcd, etcdURL, err := startEtcd(filepath.Join(*dir, "etcd"), *fsync)
	if err != nil {
		return fmt.Errorf("embedded etcd: %w", err)
	}
	defer etcd.Close()
	p := func(name string) string { return filepath.Join(pki, name) }
	flags := []string{
		"kube-apiserver",
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(*port),
		"--cert-dir=" + filepath.Join(*dir, "apiserver-certs"),
		"--tls-cert-file=" + p("apiserver.crt"),
		"--tls-private-key-file=" + p("apiserver.key"),
		"--client-ca-file=" + p("ca.crt"),
		"--etcd-servers=" + etcdURL,
		"--service-cluster-ip-range=10.0.0.0/24",
		"--allow-privileged=true",
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://127.0.0.1:" + strconv.Itoa(*port),
		"--service-account-key-file=" + p("sa.pub"),
		"--service-account-signing-key-file=" + p("sa.key"),
		"--enable-admission-plugins=NamespaceLifecycle,ValidatingAdmissionPolicy,ValidatingAdmissionWebhook,MutatingAdmissionWebhook,ResourceQuota",
		// No token controller runs, so pods must not require a ServiceAccount to exist (as envtest).
		"--disable-admission-plugins=ServiceAccount",
		"--profiling=false",
	}
	os.Args = append(flags, fs.Args()...)
	return exitCode(cli.Run(apiserver.NewAPIServerCommand()))
}

// startEtcd runs a single-member etcd on loopback ports chosen now and returns its client URL
// once it serves.
func startEtcd(dataDir string, fsync bool) (*embed.Etcd, string, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, "", err
	}
	client := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(ports[0])}
	peer := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(ports[1])}
	cfg := embed.NewConfig()
	cfg.Name = "threatmesh"
	cfg.Dir = dataDir
	cfg.ListenClientUrls = []url.URL{client}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.ListenPeerUrls = []url.URL{peer}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.InitialCluster = cfg.Name + "=" + peer.String()
	cfg.LogLevel = "warn"
	cfg.UnsafeNoFsync = !fsync
	cfg.ListenMetricsUrls = nil
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", err
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		return nil, "", err
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, "", errors.New("not ready within 60s")
	}
	go func() {
		if err := <-e.Err(); err != nil {
			fmt.Fprintf(os.Stderr, "embedded etcd failed: %v\n", err)
			os.Exit(1)
		}
	}()
	fmt.Fprintf(os.Stderr, "embedded etcd ready at %s (data %s)\n", client.String(), dataDir)
	return e, client.String(), nil
}

// terminateOnStdinEOF turns the parent's death (its end of our stdin pipe closes) into the same
// graceful shutdown as SIGTERM, so a crashed test run leaves no servers behind; a second
// SIGTERM after 20s forces the exit.
func terminateOnStdinEOF() {
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	time.Sleep(20 * time.Second)
	_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
}

func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ---- kube-controller-manager ----

func runControllerManager(args []string) error {
	fs := flag.NewFlagSet("controller-manager", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "admin kubeconfig of the apiserver (required)")
	stdinEOF := fs.Bool("exit-on-stdin-eof", false, "shut down when stdin closes (the parent process died)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *stdinEOF {
		go terminateOnStdinEOF()
	}
	if *kubeconfig == "" {
		return errors.New("--kubeconfig is required")
	}
	flags := []string{
		"kube-controller-manager",
		"--kubeconfig=" + *kubeconfig,
		"--authentication-kubeconfig=" + *kubeconfig,
		"--authorization-kubeconfig=" + *kubeconfig,
		"--controllers=garbage-collector-controller,namespace-controller",
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--use-service-account-credentials=false",
	}
	os.Args = append(flags, fs.Args()...)
	return exitCode(cli.Run(kcm.NewControllerManagerCommand()))
}

func exitCode(code int) error {
	if code != 0 {
		return fmt.Errorf("exited with code %d", code)
	}
	return nil
}
