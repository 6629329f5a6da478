package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/certbench/certbench/results"
	"github.com/spf13/cobra"
)

func init() {
	var keyPath, alg, config string
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Make the bench's signing key pair",
		Long: `keygen writes a new signing key: the private key as PEM PKCS#8 (mode 0600)
and its public half as PEM PKIX beside it (KEY with .pub for its extension).
Give the public key to whoever verifies the bench's records (bench verify --key,
cosign verify-blob-attestation --key). keygen never overwrites a key: every
record signed with the old key would become unverifiable without it.

The key goes to --key, else the bench file's "key:" (with -c), else ./bench.key.`,
		Example: `  bench keygen
  bench keygen -c lab.yaml
  bench keygen --key /etc/certbench/bench.key --type ed25519`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keyPath == "" && config != "" {
				b, err := loadBench(config)
				if err != nil {
					return err
				}
				keyPath = b.Key
			}
			if keyPath == "" {
				keyPath = "bench.key"
			}
			pubPath := publicKeyPath(keyPath)
			if strings.EqualFold(filepath.Ext(keyPath), ".pub") || filepath.Clean(pubPath) == filepath.Clean(keyPath) {
				// The public half would be written over the private one.
				return usageError(fmt.Errorf("key %s: that is where the public key would go (the public key is KEY with .pub for its extension); name the private key, e.g. --key %s",
					keyPath, strings.TrimSuffix(keyPath, filepath.Ext(keyPath))+".key"))
			}
			key, err := results.GenerateKey(alg)
			if err != nil {
				return usageError(err)
			}
			// The key's folder is made private: only the bench's user reads it.
			if err := os.MkdirAll(filepath.Dir(keyPath), 0o700); err != nil {
				return usageError(fmt.Errorf("make the key's folder: %w (choose another --key)", err))
			}
			if err := results.WriteKeyPair(keyPath, pubPath, key); err != nil {
				if errors.Is(err, results.ErrKeyExists) {
					return usageError(err)
				}
				return err
			}
			id, _ := results.KeyID(key.Public())
			fmt.Fprintf(cmd.OutOrStdout(), "private key: %s (keep it on the bench, mode 0600)\npublic key:  %s (give it to verifiers)\nkey id:      %s\n", keyPath, pubPath, id)
			return nil
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "where to write the private key")
	cmd.Flags().StringVar(&alg, "type", results.ECDSAP256, "key type: "+results.ECDSAP256+" or "+results.Ed25519)
	cmd.Flags().StringVarP(&config, "config", "c", "", "bench file whose key: names the path")
	root.AddCommand(cmd)
}

// publicKeyPath is where the public half of the key at path lives:
// bench.key → bench.pub.
func publicKeyPath(path string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + ".pub"
}
