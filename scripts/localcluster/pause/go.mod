module github.com/bitcoin-controller/bitcoin-controller/scripts/localcluster/pause

go 1.24
