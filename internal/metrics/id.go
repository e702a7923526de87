package metrics

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Dimension is one name/value pair that, with the namespace and metric name,
// identifies a metric.
type Dimension struct {
	Name  string
	Value string
}

// MaxDimensions is CloudWatch's limit of dimensions per metric.
const MaxDimensions = 30

// SeriesID identifies one metric the way CloudWatch does: namespace, metric
// name and the exact set of dimensions. {FunctionName=f} and
// {FunctionName=f, Resource=f:live} are two different metrics, and the order
// in which dimensions are listed does not matter.
type SeriesID struct {
	Namespace  string
	MetricName string
	Dimensions []Dimension
}

// normalize returns a copy of id with the dimensions sorted by name, or an
// error naming what is wrong with it.
func (id SeriesID) normalize() (SeriesID, error) {
	var errs []error
	if id.Namespace == "" {
		errs = append(errs, errors.New("namespace is empty: set it, e.g. AWS/Lambda"))
	}
	if id.MetricName == "" {
		errs = append(errs, errors.New("metric name is empty: set it, e.g. Errors"))
	}
	if len(id.Dimensions) > MaxDimensions {
		errs = append(errs, fmt.Errorf("%d dimensions, CloudWatch allows at most %d", len(id.Dimensions), MaxDimensions))
	}
	dims := slices.Clone(id.Dimensions)
	slices.SortFunc(dims, func(a, b Dimension) int { return strings.Compare(a.Name, b.Name) })
	for i, d := range dims {
		switch {
		case d.Name == "":
			errs = append(errs, fmt.Errorf("dimension with value %q has no name", d.Value))
		case d.Value == "":
			errs = append(errs, fmt.Errorf("dimension %s has an empty value", d.Name))
		case i > 0 && dims[i-1].Name == d.Name:
			errs = append(errs, fmt.Errorf("dimension %s is given twice: a metric has at most one value per dimension", d.Name))
		}
	}
	if len(errs) > 0 {
		return SeriesID{}, fmt.Errorf("metric %s: %w", id, errors.Join(errs...))
	}
	id.Dimensions = dims
	return id, nil
}

// key is the canonical map key of a normalized id.
func (id SeriesID) key() string {
	var b strings.Builder
	b.WriteString(id.Namespace)
	b.WriteByte(0)
	b.WriteString(id.MetricName)
	for _, d := range id.Dimensions {
		b.WriteByte(0)
		b.WriteString(d.Name)
		b.WriteByte('=')
		b.WriteString(d.Value)
	}
	return b.String()
}

// String renders the id as AWS/Lambda/Errors{FunctionName=hello}.
func (id SeriesID) String() string {
	var b strings.Builder
	b.WriteString(id.Namespace)
	b.WriteByte('/')
	b.WriteString(id.MetricName)
	b.WriteByte('{')
	for i, d := range id.Dimensions {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(d.Name)
		b.WriteByte('=')
		b.WriteString(d.Value)
	}
	b.WriteByte('}')
	return b.String()
}

// Validate reports what is wrong with id, if anything.
func (id SeriesID) Validate() error {
	_, err := id.normalize()
	return err
}
