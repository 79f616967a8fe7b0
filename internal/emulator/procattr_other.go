//go:build unix && !linux

package emulator

import (
	"os/exec"
	"syscall"
)

// setProcAttrs puts the child in its own process group so Stop can kill its children too.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
