package emulator

import (
	"os/exec"
	"syscall"
)

// setProcAttrs puts the child in its own process group (so Stop can kill its children too) and
// asks the kernel to SIGKILL it if the runner dies without cleaning up.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
