package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandsHelp: every command the build makes answers --help with its
// usage and exit status 0, and a wrong flag with status 2.
func TestCommandsHelp(t *testing.T) {
	cli := os.Getenv("K8S_SECRET_ENUM_CLI")
	if cli == "" {
		t.Skip("K8S_SECRET_ENUM_CLI not set (make e2e sets it)")
	}
	dir := filepath.Dir(cli)
	for _, name := range []string{"k8s-secret-enum", "auditgen", "alert-receiver"} {
		bin := filepath.Join(dir, name)
		out, err := exec.Command(bin, "--help").CombinedOutput()
		if err != nil || !strings.Contains(strings.ToLower(string(out)), "usage") {
			t.Errorf("%s --help: %v\n%s", name, err, out)
		}
		cmd := exec.Command(bin, "--no-such-flag")
		if err := cmd.Run(); cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 2 {
			t.Errorf("%s --no-such-flag: %v, want exit status 2", name, err)
		}
	}
}
