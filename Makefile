# Referral Engine. `make run` starts the local stack, `make test` runs every test.
# SAM calls the build-<LogicalId> targets (Metadata: BuildMethod: makefile) with ARTIFACTS_DIR set;
# the local runner calls the same targets with LAMBDA_GOARCH set to the host's architecture.

SHELL := /bin/bash
LAMBDA_GOOS ?= linux
LAMBDA_GOARCH ?= arm64
ARTIFACTS_DIR ?= .local/build/default
GO_BUILD = CGO_ENABLED=0 GOOS=$(LAMBDA_GOOS) GOARCH=$(LAMBDA_GOARCH) go build -tags lambda.norpc -trimpath -ldflags="-s -w"

# One line per function: LogicalId -> source folder.
build-RecordInteractionFunction: ; $(GO_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/record-interaction
build-RescoreCustomerFunction:   ; $(GO_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/rescore-customer
build-ReadApiFunction:           ; $(GO_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/read-api
build-ScheduleRescoreFunction:   ; $(GO_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/schedule-rescore
build-RedeemReferralFunction:    ; $(GO_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/redeem-referral
build-GrantRewardFunction:       ; $(GO_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/grant-reward
build-ReleaseRewardsFunction:    ; $(GO_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/release-rewards
build-MarketingApiFunction:      ; $(GO_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/marketing-api
build-IssueVoucherFunction:      ; $(GO_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/issue-voucher
build-CampaignWorkerFunction:    ; $(GO_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/campaign-worker
build-ClickRedirectFunction:     ; $(GO_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/click-redirect
build-EraseCustomerFunction:     ; $(GO_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/erase-customer
build-SweepInteractionsFunction: ; $(GO_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/sweep-interactions

FUNCTIONS := $(shell sed -n 's/^build-\([A-Za-z0-9]*\):.*/\1/p' Makefile)

.PHONY: run test fuzz test-unit build lint localstack deploy install-emulators rescore bench-ingest bench-referral bench-coldstart bench-cost bench-load clean

## run: start emulators, tables, queues, functions and the HTTP API on 127.0.0.1:3000
run: install-emulators
	@# Built with the functions' flags, so the SDK packages compiled here are reused for them.
	@CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -o .local/bin/localrun ./scripts/localrun
	.local/bin/localrun

## test: unit, template and integration tests (starts its own emulators on free ports)
test: install-emulators
	go vet ./...
	go test -count=1 -timeout 20m ./...
	$(MAKE) fuzz

## fuzz: each fuzz test for FUZZTIME (CI runs it from `make test`); one line per target
FUZZTIME ?= 20s
fuzz:
	bash scripts/fuzz ./internal/referral FuzzDecodeRedemption $(FUZZTIME)
	bash scripts/fuzz ./internal/voucher FuzzParse $(FUZZTIME)
	bash scripts/fuzz ./internal/interaction FuzzParse 10s

test-unit:
	go test -count=1 -short ./...

## build: every function for Lambda (linux/arm64) into .local/build/<LogicalId>/bootstrap
build:
	@for f in $(FUNCTIONS); do $(MAKE) -s build-$$f ARTIFACTS_DIR=.local/build/$$f || exit 1; \
	  ls -l .local/build/$$f/bootstrap | awk -v f=$$f '{printf "%-32s %6.1f MB\n", f, $$5/1048576}'; done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...

install-emulators:
	@bash scripts/install-emulators

## rescore: fire the scheduled rescoring rule on a running local stack
rescore:
	curl -fsS -X POST -H "x-api-key: $${LOCAL_API_KEY:-local-dev-key}" http://127.0.0.1:$${API_PORT:-3000}/_local/schedules/fire && echo

## localstack: the same stack on LocalStack (needs Docker; untested on machines without it)
localstack:
	bash scripts/localstack-up

deploy:
	sam build && sam deploy --guided

bench-ingest: install-emulators
	bash scripts/bench-ingest

## bench-referral: N full referrals (issue, share, click, redeem, grant): units and cost per referral
bench-referral: install-emulators
	bash scripts/bench-referral

## bench-load: the interactions/s the local stack sustains (open-loop ladder, p50/p99, zero loss) over the emulators' ceiling
bench-load: install-emulators
	bash scripts/load

## bench-coldstart: every function's binary size and init time beside a hello-world aws-lambda-go binary
bench-coldstart:
	bash scripts/bench-coldstart

## bench-cost: runs bench-ingest and bench-referral, renders docs/cost.md (cost per 1M interactions, per 1,000 referrals)
bench-cost: install-emulators
	go run ./scripts/benchcost

clean:
	rm -rf .local/build .local/run
