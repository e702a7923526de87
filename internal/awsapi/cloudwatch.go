package awsapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/sluice-dev/sluice/internal/alarm"
)

// CloudWatchPathPrefix is where CloudWatch's RPC v2 CBOR operations live:
// /service/GraniteServiceVersion20100801/operation/<Operation>, the path
// aws-sdk-go-v2's CloudWatch client calls.
const CloudWatchPathPrefix = "/service/GraniteServiceVersion20100801/operation/"

// historyPerAlarm bounds the state history kept per alarm (CloudWatch keeps
// 30 days; a local engine keeps the recent transitions).
const historyPerAlarm = 100

// CloudWatch serves the read side of CloudWatch's alarm API —
// DescribeAlarms and DescribeAlarmHistory — for the alarms the engine
// evaluates, in the RPC v2 CBOR protocol the AWS SDKs speak to it.
type CloudWatch struct {
	alarms *alarm.Evaluator

	mu      sync.Mutex
	history map[string][]alarm.Change // newest last
	cancel  func()
}

// NewCloudWatch serves ev's alarms and records their state history from now on.
func NewCloudWatch(ev *alarm.Evaluator) *CloudWatch {
	c := &CloudWatch{alarms: ev, history: map[string][]alarm.Change{}}
	c.cancel = ev.Subscribe(c.record)
	return c
}

// Close stops recording history.
func (c *CloudWatch) Close() { c.cancel() }

func (c *CloudWatch) record(ch alarm.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := append(c.history[ch.Alarm], ch)
	if len(h) > historyPerAlarm {
		h = h[len(h)-historyPerAlarm:]
	}
	c.history[ch.Alarm] = h
}

func (c *CloudWatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.URL.Path, CloudWatchPathPrefix)
	handler, ok := map[string]func(cbor.Map) (cbor.Map, error){
		"DescribeAlarms":       c.describeAlarms,
		"DescribeAlarmHistory": c.describeAlarmHistory,
	}[op]
	if r.Method != http.MethodPost || !ok {
		writeCBORError(w, errorf(http.StatusBadRequest, "UnknownOperationException",
			fmt.Sprintf("sluice serves CloudWatch's DescribeAlarms and DescribeAlarmHistory, not %q", op)))
		return
	}
	in, err := readCBOR(r)
	if err != nil {
		writeCBORError(w, err)
		return
	}
	out, err := handler(in)
	if err != nil {
		writeCBORError(w, err)
		return
	}
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.Write(cbor.Encode(out))
}

func (c *CloudWatch) describeAlarms(in cbor.Map) (cbor.Map, error) {
	names, err := cborStrings(in, "AlarmNames")
	if err != nil {
		return nil, err
	}
	if len(names) > 100 {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "AlarmNames: at most 100 names")
	}
	prefix, _ := in["AlarmNamePrefix"].(cbor.String)
	if len(names) > 0 && prefix != "" {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterCombination", "AlarmNames and AlarmNamePrefix cannot be used together")
	}
	stateFilter, _ := in["StateValue"].(cbor.String)
	if stateFilter != "" {
		if _, err := alarm.ParseState(string(stateFilter)); err != nil {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "StateValue: "+err.Error())
		}
	}
	list := cbor.List{}
	for _, a := range c.alarms.Alarms() {
		spec, st := a.Spec(), a.State()
		switch {
		case len(names) > 0 && !slices.Contains(names, spec.Name),
			prefix != "" && !strings.HasPrefix(spec.Name, string(prefix)),
			stateFilter != "" && st.Value.String() != string(stateFilter):
			continue
		}
		list = append(list, metricAlarm(spec, st))
	}
	return cbor.Map{"MetricAlarms": list, "CompositeAlarms": cbor.List{}}, nil
}

// metricAlarm is a MetricAlarm as DescribeAlarms returns it.
func metricAlarm(spec alarm.Spec, st alarm.StateInfo) cbor.Map {
	dims := cbor.List{}
	for _, d := range spec.Dimensions {
		dims = append(dims, cbor.Map{"Name": cbor.String(d.Name), "Value": cbor.String(d.Value)})
	}
	m := cbor.Map{
		"AlarmName":             cbor.String(spec.Name),
		"AlarmArn":              cbor.String("arn:aws:cloudwatch:us-east-1:000000000000:alarm:" + spec.Name),
		"StateValue":            cbor.String(st.Value.String()),
		"StateReason":           cbor.String(st.Reason),
		"StateUpdatedTimestamp": cborTime(st.Updated),
		"Namespace":             cbor.String(spec.Namespace),
		"MetricName":            cbor.String(spec.MetricName),
		"Dimensions":            dims,
		"Period":                cbor.Uint(uint64(spec.Period / time.Second)),
		"EvaluationPeriods":     cbor.Uint(uint64(spec.EvaluationPeriods)),
		"DatapointsToAlarm":     cbor.Uint(uint64(spec.M())),
		"Threshold":             cbor.Float64(spec.Threshold),
		"ComparisonOperator":    cbor.String(spec.ComparisonOperator.String()),
		"TreatMissingData":      cbor.String(spec.TreatMissingData.String()),
		"ActionsEnabled":        cbor.Bool(false),
	}
	if st.ReasonData != "" {
		m["StateReasonData"] = cbor.String(st.ReasonData)
	}
	if spec.Statistic != "" {
		m["Statistic"] = cbor.String(spec.Statistic)
	} else {
		m["ExtendedStatistic"] = cbor.String(spec.ExtendedStatistic)
	}
	return m
}

func (c *CloudWatch) describeAlarmHistory(in cbor.Map) (cbor.Map, error) {
	name, _ := in["AlarmName"].(cbor.String)
	kind, _ := in["HistoryItemType"].(cbor.String)
	if kind != "" && !slices.Contains([]string{"ConfigurationUpdate", "StateUpdate", "Action", "AlarmContributorStateUpdate", "AlarmContributorAction"}, string(kind)) {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf("HistoryItemType %q is not one of CloudWatch's", string(kind)))
	}
	start, err := cborOptionalTime(in, "StartDate")
	if err != nil {
		return nil, err
	}
	end, err := cborOptionalTime(in, "EndDate")
	if err != nil {
		return nil, err
	}
	max := 100
	if v, ok := in["MaxRecords"]; ok {
		n, err := cbor.AsInt64(v)
		if err != nil || n < 1 || n > 100 {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "MaxRecords: between 1 and 100")
		}
		max = int(n)
	}
	c.mu.Lock()
	var items []alarm.Change
	for alarmName, h := range c.history {
		if name == "" || alarmName == string(name) {
			items = append(items, h...)
		}
	}
	c.mu.Unlock()
	// Newest first, as CloudWatch's default ScanBy (TimestampDescending).
	slices.SortStableFunc(items, func(a, b alarm.Change) int { return b.Time.Compare(a.Time) })
	if asc, _ := in["ScanBy"].(cbor.String); asc == "TimestampAscending" {
		slices.Reverse(items)
	}
	list := cbor.List{}
	if kind == "" || kind == "StateUpdate" {
		for _, ch := range items {
			if (!start.IsZero() && ch.Time.Before(start)) || (!end.IsZero() && ch.Time.After(end)) {
				continue
			}
			list = append(list, cbor.Map{
				"AlarmName":       cbor.String(ch.Alarm),
				"AlarmType":       cbor.String("MetricAlarm"),
				"Timestamp":       cborTime(ch.Time),
				"HistoryItemType": cbor.String("StateUpdate"),
				"HistorySummary":  cbor.String(fmt.Sprintf("Alarm updated from %s to %s", ch.Old.String(), ch.New.String())),
				"HistoryData":     cbor.String(historyData(ch)),
			})
		}
	}
	out := cbor.Map{}
	start0 := 0
	if tok, ok := in["NextToken"].(cbor.String); ok && tok != "" {
		n, err := strconv.Atoi(string(tok))
		if err != nil || n < 0 || n > len(list) {
			return nil, errorf(http.StatusBadRequest, "InvalidNextToken", "the NextToken is not one sluice gave out")
		}
		start0 = n
	}
	stop := min(start0+max, len(list))
	out["AlarmHistoryItems"] = list[start0:stop]
	if stop < len(list) {
		out["NextToken"] = cbor.String(strconv.Itoa(stop))
	}
	return out, nil
}

// historyData is a StateUpdate's HistoryData: a JSON document with the old
// and new states, as CloudWatch writes it.
func historyData(ch alarm.Change) string {
	q := strconv.Quote
	data := ch.ReasonData
	if data == "" {
		data = "{}"
	}
	return `{"version":"1.0","oldState":{"stateValue":` + q(ch.Old.String()) + `},"newState":{"stateValue":` + q(ch.New.String()) +
		`,"stateReason":` + q(ch.Reason) + `,"stateReasonData":` + data + `}}`
}

func readCBOR(r *http.Request) (cbor.Map, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "SerializationException", "cannot read the request: "+err.Error())
	}
	if len(body) > maxRequestBody {
		return nil, errorf(http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", "the request body exceeds 6 MB")
	}
	if len(body) == 0 {
		return cbor.Map{}, nil
	}
	v, err := cbor.Decode(body)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "SerializationException", "the request is not valid CBOR: "+err.Error())
	}
	m, ok := v.(cbor.Map)
	if !ok {
		return nil, errorf(http.StatusBadRequest, "SerializationException", "the request is not a CBOR map")
	}
	return m, nil
}

// writeCBORError writes an error as RPC v2 CBOR services do: __type and message in the body.
func writeCBORError(w http.ResponseWriter, err error) {
	ae := asAPIError(err)
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.WriteHeader(ae.Status)
	w.Write(cbor.Encode(cbor.Map{"__type": cbor.String(ae.Type), "message": cbor.String(ae.Message)}))
}

func cborStrings(in cbor.Map, key string) ([]string, error) {
	v, ok := in[key]
	if !ok {
		return nil, nil
	}
	list, ok := v.(cbor.List)
	if !ok {
		return nil, errorf(http.StatusBadRequest, "SerializationException", key+" must be a list of strings")
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(cbor.String)
		if !ok {
			return nil, errorf(http.StatusBadRequest, "SerializationException", key+" must be a list of strings")
		}
		out = append(out, string(s))
	}
	return out, nil
}

func cborOptionalTime(in cbor.Map, key string) (time.Time, error) {
	v, ok := in[key]
	if !ok {
		return time.Time{}, nil
	}
	t, err := cbor.AsTime(v)
	if err != nil {
		return time.Time{}, errorf(http.StatusBadRequest, "SerializationException", key+" must be a timestamp")
	}
	return t, nil
}

// cborTime is a timestamp as RPC v2 CBOR carries it: tag 1, epoch seconds.
func cborTime(t time.Time) cbor.Value {
	return &cbor.Tag{ID: 1, Value: cbor.Float64(float64(t.UnixMilli()) / 1000)}
}

// asAPIError is err as an AWS error; anything else is an InternalFailure.
func asAPIError(err error) *apiError {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = errorf(http.StatusInternalServerError, "InternalFailure", err.Error())
	}
	return ae
}
