package avro

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/rmqconnect/rmqconnect/schema"
)

// Properties and parameters that carry Connect attributes through Avro.
const (
	PropConnectName       = "connect.name"
	PropConnectVersion    = "connect.version"
	PropConnectDoc        = "connect.doc"
	PropConnectParameters = "connect.parameters"
	PropConnectDefault    = "connect.default"
	// PropConnectType marks an Avro int that is a Connect int8/int16, and an array of key/value records that is
	// a Connect MAP ("map").
	PropConnectType = "connect.type"
	// ParamPrecision is the Decimal parameter holding the Avro precision (64 when absent, as Confluent's AvroData).
	ParamPrecision = "connect.decimal.precision"
	// ParamEnum and ParamEnumSymbols mark a Connect STRING that is an Avro enum (full name, comma-joined symbols).
	ParamEnum        = "avro.enum"
	ParamEnumSymbols = "avro.enum.symbols"
	// ParamFixedSize marks a Connect BYTES (or Decimal) that is an Avro fixed of that size.
	ParamFixedSize = "avro.fixed.size"
	// ParamFixedName keeps the name of an Avro fixed that holds a Decimal (the Connect name is the Decimal's).
	ParamFixedName = "avro.fixed.name"
	// UnionName is the Connect name of the STRUCT standing for an Avro union of several non-null types: one
	// optional field per branch, exactly one of them set.
	UnionName = "io.confluent.connect.avro.Union"

	defaultNamespace = "io.confluent.connect.avro"
	defaultPrecision = 64
)

// FromConnect maps a Connect schema to an Avro schema (see the package documentation). Errors wrap ErrUnsupported
// or schema.ErrInvalidSchema and name the field path.
func FromConnect(c *schema.Schema) (*Schema, error) {
	if err := schema.CheckSchema(c); err != nil {
		return nil, err
	}
	m := fromConnect{named: map[string]*namedEntry{}}
	return m.convert(c, "", false)
}

type namedEntry struct {
	connect *schema.Schema
	avro    *Schema
}

type fromConnect struct {
	named map[string]*namedEntry
	seq   map[string]int
}

func unsupported(path, format string, a ...any) error {
	return schema.NewFieldError(path, ErrUnsupported, fmt.Sprintf(format, a...))
}

// convert maps c; inField says the caller carries c's default as an Avro field default.
func (m *fromConnect) convert(c *schema.Schema, path string, inField bool) (*Schema, error) {
	inner, err := m.required(c, path, inField)
	if err != nil {
		return nil, err
	}
	if !c.Optional || inner.Kind == Union {
		return inner, nil
	}
	if c.Default != nil {
		// A union's default must match its first branch.
		return &Schema{Kind: Union, Branches: []*Schema{inner, {Kind: Null}}}, nil
	}
	return &Schema{Kind: Union, Branches: []*Schema{{Kind: Null}, inner}}, nil
}

func (m *fromConnect) required(c *schema.Schema, path string, inField bool) (*Schema, error) {
	if c.Type == schema.StructType && c.Name == UnionName {
		return m.union(c, path)
	}
	s := &Schema{}
	props := map[string]any{}
	logical := schema.IsLogical(c)
	switch c.Type {
	case schema.Int8, schema.Int16:
		s.Kind = Int
		props[PropConnectType] = string(c.Type)
	case schema.Int32:
		s.Kind = Int
		switch {
		case logical && c.Name == schema.DateName:
			s.LogicalType = LogicalDate
		case logical && c.Name == schema.TimeName:
			s.LogicalType = LogicalTimeMillis
		}
	case schema.Int64:
		s.Kind = Long
		if logical {
			s.LogicalType = LogicalTimestampMillis
		}
	case schema.Float32:
		s.Kind = Float
	case schema.Float64:
		s.Kind = Double
	case schema.Boolean:
		s.Kind = Boolean
	case schema.String:
		s.Kind = String
		if full := c.Parameters[ParamEnum]; full != "" {
			if prev, err := m.defined(full, c, path); prev != nil || err != nil {
				return prev, err
			}
			s.Kind = Enum
			s.Symbols = strings.Split(c.Parameters[ParamEnumSymbols], ",")
			if err := m.name(s, full, c, path); err != nil {
				return nil, err
			}
		}
	case schema.Bytes:
		s.Kind = Bytes
		if size, ok := c.ParameterInt(ParamFixedSize); ok {
			if size < 0 || size > maxAvroInt {
				return nil, unsupported(path, "parameter %s=%d is outside [0, %d]", ParamFixedSize, size, maxAvroInt)
			}
			name := c.Name
			if logical {
				name = c.Parameters[ParamFixedName]
			}
			if prev, err := m.defined(name, c, path); prev != nil || err != nil {
				return prev, err
			}
			s.Kind, s.Size = Fixed, size
			if err := m.name(s, name, c, path); err != nil {
				return nil, err
			}
		}
		if logical {
			scale, err := schema.DecimalScale(c)
			if err != nil {
				return nil, schema.AtField(err, path)
			}
			prec := defaultPrecision
			if p, ok := c.ParameterInt(ParamPrecision); ok {
				if p <= 0 || p > maxAvroInt {
					return nil, unsupported(path, "parameter %s=%d is outside [1, %d]", ParamPrecision, p, maxAvroInt)
				}
				prec = p
			}
			if scale < 0 || int(scale) > prec {
				return nil, unsupported(path, "decimal scale %d outside [0, precision %d]", scale, prec)
			}
			s.LogicalType, s.Precision, s.Scale = LogicalDecimal, prec, int(scale)
		}
	case schema.Array:
		elem, err := m.convert(c.ElemSchema, path+"[]", false)
		if err != nil {
			return nil, err
		}
		s.Kind, s.Items = Array, elem
	case schema.Map:
		if err := m.mapSchema(s, c, path); err != nil {
			return nil, err
		}
		if s.Kind == Array {
			props[PropConnectType] = "map"
		}
	case schema.StructType:
		if prev, err := m.defined(c.Name, c, path); prev != nil || err != nil {
			return prev, err
		}
		s.Kind = Record
		if err := m.name(s, c.Name, c, path); err != nil {
			return nil, err
		}
		s.Doc = c.Doc
		for _, f := range c.Fields {
			fpath := schema.JoinPath(path, f.Name)
			if !validName(f.Name) {
				return nil, unsupported(fpath, "%q is not a valid Avro field name", f.Name)
			}
			ft, err := m.convert(f.Schema, fpath, true)
			if err != nil {
				return nil, err
			}
			af := &Field{Name: f.Name, Type: ft}
			if f.Schema.Default != nil {
				d, err := connectToJSON(ft, f.Schema, f.Schema.Default)
				if err != nil {
					return nil, schema.AtField(err, fpath)
				}
				af.Default, af.HasDefault = d, true
			} else if f.Schema.Optional {
				af.Default, af.HasDefault = nil, true
			}
			s.Fields = append(s.Fields, af)
		}
	default:
		return nil, unsupported(path, "connect type %q", c.Type)
	}
	if c.Name != "" && (c.Type != schema.StructType || s.FullName() != c.Name) {
		props[PropConnectName] = c.Name
	}
	if c.Version != 0 {
		props[PropConnectVersion] = json.Number(strconv.Itoa(c.Version))
	}
	if c.Doc != "" && s.Kind != Record {
		props[PropConnectDoc] = c.Doc
	}
	if len(c.Parameters) > 0 {
		p := make(map[string]any, len(c.Parameters))
		for k, v := range c.Parameters {
			p[k] = v
		}
		props[PropConnectParameters] = p
	}
	if c.Default != nil && !inField {
		d, err := connectToJSON(s, c, c.Default)
		if err != nil {
			return nil, schema.AtField(err, path)
		}
		props[PropConnectDefault] = d
	}
	if len(props) > 0 {
		s.Props = props
	}
	return s, nil
}

// union maps the STRUCT that ToConnect makes of a multi-type union back to that union.
func (m *fromConnect) union(c *schema.Schema, path string) (*Schema, error) {
	u := &Schema{Kind: Union}
	if c.Optional {
		u.Branches = append(u.Branches, &Schema{Kind: Null})
	}
	for _, f := range c.Fields {
		b, err := m.required(f.Schema, schema.JoinPath(path, f.Name), false)
		if err != nil {
			return nil, err
		}
		u.Branches = append(u.Branches, b)
	}
	return u, nil
}

// mapSchema maps a Connect MAP: an Avro map when the keys are plain required strings, else an array of
// key/value records.
func (m *fromConnect) mapSchema(s *Schema, c *schema.Schema, path string) error {
	v, err := m.convert(c.ValueSchema, path+"[value]", false)
	if err != nil {
		return err
	}
	k := c.KeySchema
	if k.Type == schema.String && !k.Optional && k.Name == "" && len(k.Parameters) == 0 && k.Default == nil {
		s.Kind, s.Values = Map, v
		return nil
	}
	ks, err := m.convert(k, path+"[key]", false)
	if err != nil {
		return err
	}
	entry := &Schema{Kind: Record, Fields: []*Field{{Name: "key", Type: ks}, {Name: "value", Type: v}}}
	if err := m.name(entry, "", c, path); err != nil {
		return err
	}
	s.Kind, s.Items = Array, entry
	return nil
}

// defined returns the Avro type already made for full when c has the shape of the Connect schema it was made from
// (nil when full names no type yet): Avro defines a named type once and refers to it by name afterwards, so every
// struct, enum or fixed met again maps to that one type.
func (m *fromConnect) defined(full string, c *schema.Schema, path string) (*Schema, error) {
	prev, ok := m.named[full]
	if !ok || full == "" {
		return nil, nil
	}
	if !prev.connect.SameShape(c) {
		return nil, unsupported(path, "two different schemas are both named %q", full)
	}
	return prev.avro, nil
}

// name gives a named Avro type its name: the Connect name when it is a valid Avro full name, else a generated
// ConnectDefault<n> (the Connect name then travels in connect.name).
func (m *fromConnect) name(s *Schema, full string, c *schema.Schema, path string) error {
	if full == "" || !validFullName(full) {
		if m.seq == nil {
			m.seq = map[string]int{}
		}
		base := "ConnectDefault"
		if s.Kind == Record && c.Type == schema.Map {
			base = "MapEntry"
		}
		m.seq[base]++
		full = defaultNamespace + "." + base
		if n := m.seq[base]; n > 1 {
			full += strconv.Itoa(n)
		}
	}
	if _, dup := m.named[full]; dup {
		return unsupported(path, "two different schemas are both named %q", full)
	}
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		s.Namespace, s.Name = full[:i], full[i+1:]
	} else {
		s.Name = full
	}
	m.named[full] = &namedEntry{connect: c, avro: s}
	return nil
}

// ToConnect maps an Avro schema to a Connect schema (see the package documentation). A recursive record, a bare
// "null" or a union with only null give an error wrapping ErrUnsupported.
func ToConnect(a *Schema) (*schema.Schema, error) {
	t := toConnect{inProgress: map[*Schema]bool{}}
	return t.convert(a, "")
}

type toConnect struct {
	inProgress map[*Schema]bool
}

func (t *toConnect) convert(a *Schema, path string) (*schema.Schema, error) {
	if a.Kind == Union {
		return t.union(a, path)
	}
	c := &schema.Schema{}
	switch a.Kind {
	case Null:
		return nil, unsupported(path, "an Avro null schema has no Connect counterpart")
	case Boolean:
		c.Type = schema.Boolean
	case Int:
		c.Type = schema.Int32
		switch {
		case a.Prop(PropConnectType) == "int8":
			c.Type = schema.Int8
		case a.Prop(PropConnectType) == "int16":
			c.Type = schema.Int16
		case a.LogicalType == LogicalDate:
			c.Name, c.Version = schema.DateName, 1
		case a.LogicalType == LogicalTimeMillis:
			c.Name, c.Version = schema.TimeName, 1
		}
	case Long:
		c.Type = schema.Int64
		if a.LogicalType == LogicalTimestampMillis {
			c.Name, c.Version = schema.TimestampName, 1
		}
	case Float:
		c.Type = schema.Float32
	case Double:
		c.Type = schema.Float64
	case String:
		c.Type = schema.String
	case Bytes, Fixed:
		c.Type = schema.Bytes
		if a.Kind == Fixed {
			c.Name = a.FullName()
			c.Parameters = map[string]string{ParamFixedSize: strconv.Itoa(a.Size)}
		}
		if a.LogicalType == LogicalDecimal {
			if a.Kind == Fixed {
				c.Parameters[ParamFixedName] = a.FullName()
			}
			c.Name, c.Version = schema.DecimalName, 1
			if c.Parameters == nil {
				c.Parameters = map[string]string{}
			}
			c.Parameters[schema.DecimalScaleParam] = strconv.Itoa(a.Scale)
			c.Parameters[ParamPrecision] = strconv.Itoa(a.Precision)
		}
	case Enum:
		c.Type, c.Name = schema.String, a.FullName()
		c.Parameters = map[string]string{ParamEnum: a.FullName(), ParamEnumSymbols: strings.Join(a.Symbols, ",")}
	case Array:
		if a.Prop(PropConnectType) == "map" && a.Items.Kind == Record && len(a.Items.Fields) == 2 &&
			a.Items.Fields[0].Name == "key" && a.Items.Fields[1].Name == "value" {
			k, err := t.convert(a.Items.Fields[0].Type, path+"[key]")
			if err != nil {
				return nil, err
			}
			v, err := t.convert(a.Items.Fields[1].Type, path+"[value]")
			if err != nil {
				return nil, err
			}
			c.Type, c.KeySchema, c.ValueSchema = schema.Map, k, v
			break
		}
		elem, err := t.convert(a.Items, path+"[]")
		if err != nil {
			return nil, err
		}
		c.Type, c.ElemSchema = schema.Array, elem
	case Map:
		v, err := t.convert(a.Values, path+"[value]")
		if err != nil {
			return nil, err
		}
		c.Type, c.KeySchema, c.ValueSchema = schema.Map, schema.StringSchema, v
	case Record:
		if t.inProgress[a] {
			return nil, unsupported(path, "record %q is recursive; Connect schemas cannot be", a.FullName())
		}
		t.inProgress[a] = true
		defer delete(t.inProgress, a)
		c.Type, c.Name, c.Doc = schema.StructType, a.FullName(), a.Doc
		for i, f := range a.Fields {
			fpath := schema.JoinPath(path, f.Name)
			fs, err := t.convert(f.Type, fpath)
			if err != nil {
				return nil, err
			}
			if f.HasDefault && f.Default != nil {
				d, err := jsonToConnect(f.Type, fs, f.Default)
				if err != nil {
					return nil, schema.AtField(err, fpath)
				}
				fs.Default = d
			}
			c.Fields = append(c.Fields, schema.Field{Name: f.Name, Index: i, Schema: fs})
		}
	default:
		return nil, unsupported(path, "avro type %q", a.Kind)
	}
	if err := t.connectProps(a, c, path); err != nil {
		return nil, err
	}
	return c, nil
}

func (t *toConnect) connectProps(a *Schema, c *schema.Schema, path string) error {
	if n := a.Prop(PropConnectName); n != "" {
		c.Name = n
	}
	if v, ok := a.Props[PropConnectVersion].(json.Number); ok {
		if n, err := strconv.Atoi(v.String()); err == nil {
			c.Version = n
		}
	}
	if d := a.Prop(PropConnectDoc); d != "" {
		c.Doc = d
	}
	if p, ok := a.Props[PropConnectParameters].(map[string]any); ok {
		// Written by FromConnect: the complete Connect parameters.
		c.Parameters = make(map[string]string, len(p))
		for k, v := range p {
			if s, ok := v.(string); ok {
				c.Parameters[k] = s
			}
		}
	}
	if d, ok := a.Props[PropConnectDefault]; ok && d != nil {
		v, err := jsonToConnect(a, c, d)
		if err != nil {
			return schema.AtField(err, path)
		}
		c.Default = v
	}
	return nil
}

func (t *toConnect) union(a *Schema, path string) (*schema.Schema, error) {
	var nonNull []*Schema
	hasNull := false
	for _, b := range a.Branches {
		if b.Kind == Null {
			hasNull = true
		} else {
			nonNull = append(nonNull, b)
		}
	}
	switch len(nonNull) {
	case 0:
		return nil, unsupported(path, "a union of only null has no Connect counterpart")
	case 1:
		c, err := t.convert(nonNull[0], path)
		if err != nil {
			return nil, err
		}
		c.Optional = c.Optional || hasNull
		return c, nil
	}
	c := &schema.Schema{Type: schema.StructType, Name: UnionName, Optional: hasNull}
	seen := map[string]bool{}
	for i, b := range nonNull {
		fs, err := t.convert(b, path)
		if err != nil {
			return nil, err
		}
		fs = schema.FromSchema(fs).Optional().MustBuild()
		name := unionFieldName(a, b)
		if seen[name] {
			// A named type without a namespace called like a primitive next to that primitive: Parse refuses such
			// a union, a Schema built by hand may not.
			return nil, unsupported(path, "two branches of the union map to the Connect union field %q", name)
		}
		seen[name] = true
		c.Fields = append(c.Fields, schema.Field{Name: name, Index: i, Schema: fs})
	}
	return c, nil
}

// unionFieldName names the field of the union STRUCT of u that stands for branch b: the simple name of a named
// type, the type name otherwise. A named type whose simple name another branch of u also goes by takes its full
// name, so each branch keeps a field of its own.
func unionFieldName(u, b *Schema) string {
	if !b.IsNamed() {
		return string(b.Kind)
	}
	for _, o := range u.Branches {
		if o != b && (o.IsNamed() && o.Name == b.Name || !o.IsNamed() && string(o.Kind) == b.Name) {
			return b.FullName()
		}
	}
	return b.Name
}

// jsonToConnect converts an Avro JSON default of schema a into a Connect value of c.
func jsonToConnect(a *Schema, c *schema.Schema, d any) (any, error) {
	n, err := defaultNative(a, d)
	if err != nil {
		return nil, err
	}
	return decodeValue(a, a, c, n, 0)
}

// connectToJSON converts a Connect value of c into the Avro JSON default for a.
func connectToJSON(a *Schema, c *schema.Schema, v any) (any, error) {
	n, err := encodeValue(a, c, v, 0)
	if err != nil {
		return nil, err
	}
	return nativeToJSON(a, n), nil
}
