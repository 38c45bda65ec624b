#!/usr/bin/env python3
"""Zip a test FMU: make_fmu.py OUT.fmu SO VARIANT. VARIANT picks the
modelDescription.xml (and archive layout) for a good or a broken FMU:
decay.c (FMI 2.0) variants, or decay3.c (FMI 3.0) ones ending in '3'."""
import sys
import zipfile

out, so, variant = sys.argv[1:4]

VARS = '''
  <ScalarVariable name="x" valueReference="0" causality="output" variability="continuous" initial="calculated">
   <Real declaredType="Length"/></ScalarVariable>
  <ScalarVariable name="k" valueReference="1" causality="parameter" variability="tunable"><Real start="1.0" unit="1/s"/>
   <Annotations><Tool name="t"><x/></Tool></Annotations></ScalarVariable>
  <ScalarVariable name="x0" valueReference="2" causality="parameter" variability="fixed"><Real start="2.0" unit="m"/></ScalarVariable>
  <ScalarVariable name="u" valueReference="3" causality="input" variability="continuous"><Real start="0.0"/></ScalarVariable>
  <ScalarVariable name="n" valueReference="4" causality="output" variability="discrete" initial="calculated"><Integer/></ScalarVariable>
  <ScalarVariable name="below" valueReference="5" causality="output" variability="discrete" initial="calculated"><Boolean/></ScalarVariable>
  <ScalarVariable name="fail_at" valueReference="6" causality="parameter" variability="fixed"><Integer start="-1"/></ScalarVariable>
  <ScalarVariable name="label" valueReference="7" causality="parameter" variability="fixed"><String start="a"/></ScalarVariable>
  <ScalarVariable name="terminate_at" valueReference="8" causality="parameter" variability="fixed"><Integer start="-1"/></ScalarVariable>
  <ScalarVariable name="discard_at" valueReference="9" causality="parameter" variability="fixed"><Integer start="-1"/></ScalarVariable>
'''
EXTRA = {'dup': '  <ScalarVariable name="x(" valueReference="10" causality="output"><Real/></ScalarVariable>\n'
                '  <ScalarVariable name="x)" valueReference="11" causality="output"><Real/></ScalarVariable>\n'}
TYPES2 = '<TypeDefinitions><SimpleType name="Length"><Real unit="m"/></SimpleType></TypeDefinitions>'

VARS3 = '''
  <Float64 name="time" valueReference="0" causality="independent" variability="continuous"/>
  <Float64 name="x" valueReference="1" causality="output" variability="continuous" initial="calculated" declaredType="Length"/>
  <Float64 name="k" valueReference="2" causality="parameter" variability="tunable" start="1.0" unit="1/s">
   <Annotations><Annotation type="t"><x/></Annotation></Annotations></Float64>
  <Float64 name="x0" valueReference="3" causality="parameter" variability="fixed" start="2.0" unit="m"/>
  <Float64 name="u" valueReference="4" causality="input" variability="continuous" start="0"/>
  <Int32 name="n" valueReference="5" causality="output" variability="discrete" initial="calculated"/>
  <Boolean name="below" valueReference="6" causality="output" variability="discrete" initial="calculated"/>
  <UInt8 name="sel" valueReference="7" causality="input" variability="discrete" start="1"/>
  <Float32 name="y" valueReference="8" causality="output" variability="continuous" initial="calculated"/>
  <Int32 name="fail_at" valueReference="9" causality="parameter" variability="fixed" start="-1"/>
  <Int32 name="terminate_at" valueReference="10" causality="parameter" variability="fixed" start="-1"/>
  <Int32 name="event_at" valueReference="11" causality="parameter" variability="fixed" start="-1"/>
  <Int32 name="crash_at" valueReference="12" causality="parameter" variability="fixed" start="-1"/>
  <Int32 name="note_at" valueReference="13" causality="parameter" variability="fixed" start="-1"/>
  <Int32 name="substeps" valueReference="14" causality="parameter" variability="fixed" start="1"/>
  <Enumeration name="mode" valueReference="15" causality="input" variability="discrete" declaredType="Mode"/>
  <String name="label" valueReference="16" causality="parameter" variability="fixed"><Start value="a"/></String>
  <Binary name="blob" valueReference="17" causality="parameter" variability="fixed"><Start value="0a0b"/></Binary>
  <Float64 name="vec" valueReference="18" causality="parameter" variability="fixed" start="1 2 3"><Dimension start="3"/></Float64>
'''
TYPES3 = ('<TypeDefinitions><Float64Type name="Length" unit="m"/>'
          '<EnumerationType name="Mode"><Item name="slow" value="1"/><Item name="fast" value="2"/></EnumerationType>'
          '</TypeDefinitions>')

if variant == 'feed3':  # tests/fmu/feed3.c: an input and an output of every type
    kinds = ['Float32', 'Float64', 'Int8', 'UInt8', 'Int16', 'UInt16', 'Int32', 'UInt32', 'Int64', 'UInt64',
             'Boolean', 'Enumeration']
    v = ['  <Float64 name="time" valueReference="0" causality="independent" variability="continuous"/>']
    for k, t in enumerate(kinds):
        var = '' if t.startswith('Float') else ' variability="discrete"'
        # the 64-bit extremes as starts: their nearest doubles, 2^63 and 2^64, must pass
        start = {'Boolean': 'false', 'Enumeration': '1', 'Int64': '9223372036854775807',
                 'UInt64': '18446744073709551615'}.get(t, '0')
        dt = ' declaredType="Option"' if t == 'Enumeration' else ''
        v.append(f'  <{t} name="{t}_input" valueReference="{2 * k + 1}" causality="input"{var}{dt} start="{start}"/>')
        v.append(f'  <{t} name="{t}_output" valueReference="{2 * k + 2}" causality="output"{var}{dt} '
                 'initial="calculated"/>')
    md = f"""<?xml version="1.0" encoding="UTF-8"?>
<fmiModelDescription fmiVersion="3.0" modelName="feed3" instantiationToken="{{feed3}}">
 <CoSimulation modelIdentifier="feed3"/>
 <TypeDefinitions><EnumerationType name="Option"><Item name="a" value="1"/><Item name="b" value="2"/></EnumerationType>
 </TypeDefinitions>
 <ModelVariables>
{chr(10).join(v)}
 </ModelVariables>
</fmiModelDescription>
"""
    with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
        z.writestr('modelDescription.xml', md)
        z.write(so, 'binaries/x86_64-linux/feed3.so')
    sys.exit(0)

if variant.endswith('3'):
    # 'state3': declares the FMU state capability (decay3.c has the functions)
    STATE3 = (' canGetAndSetFMUState="true" canSerializeFMUState="true"' if variant == 'state3' else '')
    md = f'''<?xml version="1.0" encoding="UTF-8"?>
<fmiModelDescription fmiVersion="3.0" modelName="decay3" instantiationToken="{{decay3-1}}">
 <CoSimulation modelIdentifier="decay3" canHandleVariableCommunicationStepSize="true"{STATE3}/>
 <UnitDefinitions><Unit name="m"/></UnitDefinitions>
 {TYPES3}
 <ModelVariables>{VARS3} </ModelVariables>
 <ModelStructure><Output valueReference="1"/><Output valueReference="5"/><Output valueReference="6"/><Output valueReference="8"/></ModelStructure>
</fmiModelDescription>
'''
    with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
        z.writestr('modelDescription.xml', md)
        z.writestr('resources/token.txt', 'decay3\n')
        if variant == 'nobin3':
            z.write(so, 'binaries/x86_64-windows/decay3.dll')
            z.write(so, 'binaries/aarch64-linux/decay3.so')
        else:
            z.write(so, 'binaries/x86_64-linux/decay3.so')
    if variant == 'huge3':  # a zip bomb: 520 MiB of zeros, a few MiB packed
        with zipfile.ZipFile(out, 'a', zipfile.ZIP_DEFLATED, compresslevel=1) as z:
            with z.open('resources/zeros.bin', 'w', force_zip64=True) as f:
                block = bytes(1 << 20)
                for _ in range(520):
                    f.write(block)
    sys.exit(0)

version = '4.0' if variant == 'v4' else '1.0' if variant == 'v1' else '2.0'
iface = '<ModelExchange modelIdentifier="decay"/>' if variant == 'me' else '<CoSimulation modelIdentifier="decay"/>'
if variant == 'state':  # declares the FMU state capability (decay.c has the functions)
    iface = '<CoSimulation modelIdentifier="decay" canGetAndSetFMUstate="true" canSerializeFMUstate="true"/>'
md = f'''<?xml version="1.0" encoding="UTF-8"?>
<fmiModelDescription fmiVersion="{version}" modelName="decay" guid="{{decay-1}}">
 {iface}
 {TYPES2}
 <ModelVariables>{VARS}{EXTRA.get(variant, '')} </ModelVariables>
</fmiModelDescription>
'''
if variant == 'badxml':
    md = md.replace('</ModelVariables>', '</ModelVariabls>')
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    if variant != 'nomd':
        z.writestr('modelDescription.xml', md)
    if variant != 'nobin':
        z.write(so, 'binaries/linux64/decay.so')
    else:
        z.write(so, 'binaries/win64/decay.dll')
    if variant == 'slip':
        z.writestr('../escape.txt', 'x')
